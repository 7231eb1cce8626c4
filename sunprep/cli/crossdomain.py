"""`sunprep crossdomain`: pre-train on one domain, fine-tune on the other, evaluate both."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sunprep.atomic import check_out_folder
from sunprep.cli.app import app, guarded
from sunprep.cli.options import GLOBAL_BATCH, Compile, Device, Poolings, Precision, Quiet, Width, Workers
from sunprep.progress import progress_bar
from sunprep.train.config import CrossConfig, TrainConfig


@app.command()
@guarded
def crossdomain(
    domain_a: Annotated[Path, typer.Option(help="Domain A export (e.g. SUN RGB-D, 39 classes).")],
    domain_b: Annotated[Path, typer.Option(help="Domain B export (e.g. Cityscapes, 19 classes).")],
    out: Annotated[Path, typer.Option(help="Study folder: A/, B/, A_to_B/, B_to_A/, results.csv, results.md, results.png.")],
    epochs: Annotated[int, typer.Option(help="Epochs of the from-scratch runs A and B.")] = CrossConfig.epochs,
    finetune_epochs: Annotated[int, typer.Option(help="Epochs of the fine-tuning runs A->B and B->A.")] = CrossConfig.finetune_epochs,
    batch_size: Annotated[int, typer.Option(help=GLOBAL_BATCH)] = TrainConfig.batch_size,
    lr: Annotated[float, typer.Option(help="AdamW peak learning rate of the from-scratch runs.")] = TrainConfig.lr,
    finetune_lr: Annotated[float, typer.Option(help="AdamW peak learning rate of the fine-tuning runs.")] = CrossConfig.finetune_lr,
    width: Width = TrainConfig.width,
    poolings: Poolings = TrainConfig.poolings,
    device: Device = "auto",
    precision: Precision = "auto",
    compile: Compile = False,
    seed: Annotated[int, typer.Option(help="Seed of every run.")] = 0,
    workers: Workers = 2,
    quiet: Quiet = False,
) -> None:
    """Train A, train B, fine-tune A->B and B->A; a results matrix with forgetting and transfer.

    Data-parallel under torchrun, as `train`; rank 0 writes the files and prints.
    """
    # Imported here: torch loads only for the commands that need it.
    from sunprep.train.crossdomain import markdown, run_study, write_results
    from sunprep.train.distributed import session
    from sunprep.train.loop import pick_device

    check_out_folder(out)  # before the first of four runs, not when results are written
    cfg = CrossConfig(
        domain_a=domain_a, domain_b=domain_b, out=out, epochs=epochs, batch_size=batch_size, lr=lr, width=width,
        poolings=poolings,
        device=device, seed=seed, workers=workers, precision=precision, compile=compile,
        finetune_epochs=finetune_epochs,
        finetune_lr=finetune_lr,
    )  # fmt: skip
    with session(pick_device(device)) as world, progress_bar(quiet or not world.main) as bar:
        task = bar.add_task("crossdomain", total=None)
        rows = run_study(
            cfg, lambda desc, done, total: bar.update(task, description=desc, completed=done, total=total),
            on_note=lambda note: bar.console.print(note, markup=False, highlight=False, soft_wrap=True),
        )  # fmt: skip
    if not world.main:
        return
    paths = write_results(rows, cfg)
    typer.echo(markdown(rows, cfg), nl=False)
    for path in paths:
        typer.echo(f"wrote {path}")
