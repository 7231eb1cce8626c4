"""`sunprep evaluate`: dataset-level scores of a checkpoint on one split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from sunprep.cli.app import app, guarded
from sunprep.cli.options import Checkpoint, Device, Precision, Quiet, Workers
from sunprep.console import console
from sunprep.progress import progress_bar
from sunprep.train.config import EvalConfig

if TYPE_CHECKING:
    from sunprep.train.evaluate import EvalResult


def result_table(result: EvalResult) -> Table:
    """Per-class IoU and accuracy, then the summary rows; '-' for a class absent from gt and prediction."""
    from sunprep.train.metrics import score_text  # with torch: loaded only once evaluate has run

    s = result.scores
    table = Table()
    for col in ("class", "IoU", "acc"):
        table.add_column(col, justify="left" if col == "class" else "right")
    fmt = lambda x: score_text(x, 4, "-")
    for name, iou, acc in zip(result.classes.names, s.iou, s.acc):
        table.add_row(name, fmt(iou), fmt(acc))
    table.add_section()
    table.add_row("mIoU", fmt(s.miou), "")
    table.add_row("pixel acc", "", fmt(s.pixel_acc))
    table.add_row("mean acc", "", fmt(s.mean_acc))
    return table


@app.command()
@guarded
def evaluate(
    checkpoint: Checkpoint,
    data: Annotated[Path, typer.Option(help="Export folder in any layout `train` reads.")],
    split: Annotated[str, typer.Option(help="Split to score.")] = "val",
    out: Annotated[Path | None, typer.Option(help="Folder for per_class.csv, confusion.csv, summary.json, confusion.png, iou.png.")] = None,
    save_predictions: Annotated[
        Path | None,
        typer.Option(
            "--save-predictions", file_okay=False,
            help="Folder for one PNG per image as the official scripts read it (labelIds/ in the Cityscapes label space, "
            "else labelTrainIds/) and colour pictures (color/).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass in all (under torchrun shared among the processes).")] = 16,
    device: Device = "auto",
    precision: Precision = "auto",
    workers: Workers = 2,
    quiet: Quiet = False,
) -> None:
    """One confusion matrix over the whole split: per-class IoU, mIoU, pixel and class-mean accuracy.

    Under torchrun each process scores a shard and the confusion matrices are summed: the same
    numbers as one process; with --save-predictions each writes its shard's PNGs.
    """
    # Imported here: torch loads only for the commands that need it.
    from sunprep.train.distributed import session
    from sunprep.train.evaluate import evaluate as run_evaluate
    from sunprep.train.evaluate import write_results
    from sunprep.train.loop import pick_device

    cfg = EvalConfig(
        checkpoint=checkpoint, data=data, split=split, out=out, batch_size=batch_size, device=device, workers=workers,
        precision=precision, predictions=save_predictions,
    )  # fmt: skip
    with session(pick_device(device)) as world, progress_bar(quiet or not world.main) as bar:
        task = bar.add_task("evaluate", total=None)
        result = run_evaluate(cfg, lambda desc, done, total: bar.update(task, description=desc, completed=done, total=total))
    if not world.main:
        return
    typer.echo(f"{result.images} images, {result.scores.pixels} labelled pixels, head {result.head}")
    console(width=100).print(result_table(result))
    if result.predictions is not None:
        typer.echo(f"wrote {result.images} predictions to {result.predictions}/ and their colours to {result.predictions.parent / 'color'}/")
    if out is not None:
        for path in write_results(result, out, {"checkpoint": str(checkpoint), "data": str(data), "split": split}):
            typer.echo(f"wrote {path}")
