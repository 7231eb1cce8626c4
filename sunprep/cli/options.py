"""Options the training commands share, declared once so their help and flags stay the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Checkpoint = Annotated[Path, typer.Option(help="A checkpoint written by `sunprep train`.")]
Device = Annotated[str, typer.Option(help="auto | cpu | cuda | mps.")]
Workers = Annotated[int, typer.Option(help="Threads that read and decode the data files.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
