"""`sunprep train`: train a U-Net on an export (or the 128x256 Cityscapes .npy release)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sunprep.cli.app import app, guarded
from sunprep.cli.options import GLOBAL_BATCH, Compile, Device, Poolings, Precision, Quiet, Width, Workers
from sunprep.progress import progress_bar
from sunprep.train.config import FINETUNE_EPOCHS, FINETUNE_LR, ClassWeights, TrainConfig


def epoch_line(row: dict[str, float]) -> str:
    """One stdout line per finished epoch (validation fields only when a val split exists)."""
    parts = [f"epoch {int(row['epoch'])}", f"loss {row['train_loss']:.4f}"]
    if "val_miou" in row:
        parts += [f"val mIoU {row['val_miou']:.4f}", f"pixel acc {row['val_pixel_acc']:.4f}"]
    parts += [f"{row['images_per_s']:.1f} img/s", f"{row['seconds']:.1f} s"]
    return "  ".join(parts)


@app.command()
@guarded
def train(
    data: Annotated[Path, typer.Option(help="Export folder: cityscapes (.npy), parquet or cityscapes-official layout.")],
    out: Annotated[Path, typer.Option(help="Run folder: last.pt, metrics.csv, curves.png, config.json.")],
    epochs: Annotated[int | None, typer.Option(help="Epochs; the poly schedule reaches 0 at the last.",
                                               show_default=f"{TrainConfig.epochs}; {FINETUNE_EPOCHS} with --init")] = None,
    batch_size: Annotated[int, typer.Option(help=GLOBAL_BATCH)] = TrainConfig.batch_size,
    lr: Annotated[float | None, typer.Option(help="AdamW peak learning rate, after the warm-up.",
                                             show_default=f"{TrainConfig.lr:g}; {FINETUNE_LR:g} with --init")] = None,
    warmup: Annotated[float, typer.Option(help="Fraction of all steps warming up linearly to --lr.")] = TrainConfig.warmup,
    scale: Annotated[bool, typer.Option(help="Random resize in [--scale-min, --scale-max], crop/pad (void) back.")] = TrainConfig.scale,
    scale_min: Annotated[float, typer.Option(help="Smallest random resize factor.")] = TrainConfig.scale_min,
    scale_max: Annotated[float, typer.Option(help="Largest random resize factor.")] = TrainConfig.scale_max,
    flip: Annotated[bool, typer.Option(help="Random horizontal flips.")] = TrainConfig.flip,
    photometric: Annotated[bool, typer.Option(help="Brightness, contrast and saturation jitter.")] = TrainConfig.photometric,
    width: Width = TrainConfig.width,
    poolings: Poolings = TrainConfig.poolings,
    class_weights: Annotated[ClassWeights, typer.Option(help="inverse-sqrt: 1/sqrt of each class's train pixel frequency.")] = "none",
    init: Annotated[Path | None, typer.Option(help="Start from this checkpoint's encoder-decoder (fine-tuning).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its last finished epoch.")] = False,
    device: Device = "auto",
    precision: Precision = "auto",
    compile: Compile = False,
    seed: Annotated[int, typer.Option(help="Seed of weights, order and augmentation.")] = 0,
    workers: Workers = 2,
    quiet: Quiet = False,
) -> None:
    """Train a U-Net (cross-entropy ignoring void), checkpointing every epoch.

    Data-parallel under torchrun (`torchrun --nproc-per-node N -m sunprep train ...`): gloo on
    CPU, NCCL on CUDA; rank 0 writes the files and prints.
    """
    # Imported here: torch loads only for the commands that need it.
    from sunprep.train.distributed import session
    from sunprep.train.loop import pick_device
    from sunprep.train.loop import train as run_train

    epochs, lr = TrainConfig.schedule(init, epochs, lr)  # fine-tuning has its own defaults
    cfg = TrainConfig(
        data=data, out=out, epochs=epochs, batch_size=batch_size, lr=lr, width=width, poolings=poolings,
        class_weights=class_weights, init=init, resume=resume, device=device, seed=seed, workers=workers,
        precision=precision, compile=compile, warmup=warmup, scale=scale, scale_min=scale_min, scale_max=scale_max,
        flip=flip, photometric=photometric,
    )  # fmt: skip
    with session(pick_device(device)) as world, progress_bar(quiet or not world.main) as bar:
        task = bar.add_task("train", total=None)

        def on_batch(desc: str, done: int, total: int) -> None:
            bar.update(task, description=desc, completed=done, total=total)

        ckpt = run_train(
            cfg, on_batch=on_batch, on_epoch=lambda row: typer.echo(epoch_line(row)),
            on_note=lambda note: bar.console.print(note, markup=False, highlight=False, soft_wrap=True),
        )  # fmt: skip
    if world.main:
        typer.echo(f"checkpoint: {ckpt}")
