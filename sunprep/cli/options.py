"""Options several commands share, declared once so their help and flags stay the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sunprep.errors import BadInput
from sunprep.sunrgbd.sensors import ALL_SENSORS, DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS, parse_sensor_folders
from sunprep.train.config import DeviceChoice, PrecisionChoice

Checkpoint = Annotated[Path, typer.Option(help="A checkpoint written by `sunprep train`.")]
Device = Annotated[DeviceChoice, typer.Option(help="auto: CUDA, else Apple MPS, else CPU.")]
Workers = Annotated[int, typer.Option("--workers", "-j", help="Threads that read and decode the data files.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Precision = Annotated[
    PrecisionChoice, typer.Option(help="auto: bf16 on CUDA where supported (else fp16), fp32 on CPU and MPS.")
]
Width = Annotated[int, typer.Option(help="U-Net channels at full resolution (doubling per level).")]
Poolings = Annotated[int, typer.Option(help="U-Net poolings (downsamplings): an input side must be a multiple of 2**N or is padded to one.")]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the model (pays on GPUs; see benchmarks/train.py).")]
GLOBAL_BATCH = "Images per optimiser step in all: the global batch; under torchrun each of N processes takes 1/N of it (N must divide it)."


def sensor_folders(values: list[str] | None) -> tuple[str, ...]:
    """`--sensors` as sensor folders (default kinect2data); a bad choice is a usage error (exit 2)."""
    try:
        return parse_sensor_folders(values or DEFAULT_SENSOR_FOLDERS)
    except BadInput as err:
        raise typer.BadParameter(str(err).removeprefix("--sensors "), param_hint="--sensors") from None


def _check_sensors(values: list[str] | None) -> list[str] | None:
    sensor_folders(values)  # checked while parsing, before any work starts
    return values


Sensors = Annotated[
    list[str] | None,
    typer.Option(
        "--sensors",
        callback=_check_sensors,
        metavar="FOLDER[,FOLDER...]",
        help=(
            f"sensor folders to read from a SUNRGBD/ root; repeat or comma-separate: {', '.join(SENSOR_FOLDERS)}, "
            f"or {ALL_SENSORS} (the 10,335 images) [default: {', '.join(DEFAULT_SENSOR_FOLDERS)}]"
        ),
    ),
]
