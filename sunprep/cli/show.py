"""`sunprep show`: one sample of an export or a raw SUN RGB-D scene as a labelled picture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sunprep.cli.app import app, guarded

DATA_HELP = "An export folder (cityscapes .npy, parquet or cityscapes-official) or one SUN RGB-D scene folder."


@app.command()
@guarded
def show(
    data: Annotated[Path, typer.Argument(help=DATA_HELP, show_default=False)],
    index: Annotated[int | None, typer.Option(help="Sample's position in the split, 0..N-1 (default 0).")] = None,
    scene: Annotated[str | None, typer.Option(help="Scene name from manifest.parquet (path or last folder).")] = None,
    split: Annotated[str | None, typer.Option(help="Split to pick from (default: val, else the first).")] = None,
    out: Annotated[Path | None, typer.Option(help="PNG to write (default: ./<sample>.png).")] = None,
) -> None:
    """Image | labels over the image | depth (metres), with a legend of the classes present; prints the PNG's path."""
    from sunprep.atomic import check_out_folder
    from sunprep.errors import BadInput
    from sunprep.figures.canvas import save_png
    from sunprep.figures.samples import sample_figure
    from sunprep.show import pick

    if out is not None:
        if out.is_dir():
            raise BadInput(f"{out}: is a folder; --out names the PNG to write")
        check_out_folder(out.parent)
    shown = pick(data, index, scene, split)
    path = out if out is not None else Path(f"{shown.name}.png")
    save_png(sample_figure(shown.image, shown.label, shown.depth, shown.classes, shown.title), path)
    typer.echo(path)
