"""`sunprep analyze`: per-image scores, worst cases, scene types, baselines and latent space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sunprep.atomic import check_out_folder
from sunprep.cli.app import app, guarded
from sunprep.cli.options import Checkpoint, Device, Quiet, Workers
from sunprep.progress import progress_bar
from sunprep.train.config import AnalyzeConfig


def report_lines(s: dict) -> list[str]:
    """The summary as short lines for stdout; figures absent from the run are left out."""
    f = lambda x: "-" if x is None else f"{x:.4f}"
    lines = [f"images: {s['images']}  model mIoU: {f(s['miou'])}"]
    if s["per_image_miou"]:
        lines.append("per-image mIoU: " + "  ".join(f"{k} {f(v)}" for k, v in s["per_image_miou"].items()))
    lines += [f"worst: {w['id']}" + (f" ({w['scene']})" if w["scene"] != w["id"] else "") + f" mIoU {f(w['miou'])}" for w in s["worst"]]
    lines += [f"baseline {k}: mIoU {f(v)}" for k, v in s["baselines"].items()]
    lines += [f"scene type {k}: mIoU {f(v)}" for k, v in s["scene_types"].items()]
    lines += [f"linear CKA ({k.replace('_', ' ')}): {f(v)}" for k, v in s["cka"].items()]
    if s["feature_shift"] is not None:
        lines.append(f"feature shift between domains (mean |d mean| / pooled std): {f(s['feature_shift'])}")
    return lines


@app.command()
@guarded
def analyze(
    checkpoint: Checkpoint,
    data: Annotated[Path, typer.Option(help="Export folder (its manifest.parquet gives scene types).")],
    split: Annotated[str, typer.Option(help="Split to analyse.")] = "val",
    out: Annotated[Path | None, typer.Option(help="Folder for the CSVs, summary.json, per_image_miou.png, scene_types.png and worst/ panels.")] = None,
    worst: Annotated[int, typer.Option(help="How many worst images get an image | truth | prediction panel.")] = 5,
    compare: Annotated[Path | None, typer.Option(help="Second checkpoint: linear CKA of bottleneck features.")] = None,
    data2: Annotated[Path | None, typer.Option(help="Second domain: per-channel feature statistics beside --data.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 16,
    device: Device = "auto",
    workers: Workers = 2,
    quiet: Quiet = False,
) -> None:
    """Per-image IoU, worst-k panels, mIoU per scene type, baselines, CKA and feature statistics."""
    # Imported here: torch loads only for the commands that need it.
    from sunprep.train.analyze import analyze as run_analyze
    from sunprep.train.analyze import summary, write_analysis

    if out is not None:
        check_out_folder(out)  # before the model runs over the split, not after
    cfg = AnalyzeConfig(
        checkpoint=checkpoint, data=data, split=split, out=out, worst=worst, compare=compare, data2=data2,
        batch_size=batch_size, device=device, workers=workers,
    )  # fmt: skip
    with progress_bar(quiet) as bar:
        task = bar.add_task("analyze", total=None)
        result = run_analyze(cfg, lambda desc, done, total: bar.update(task, description=desc, completed=done, total=total))
    for line in report_lines(summary(result)):
        typer.echo(line)
    if out is not None:
        paths = write_analysis(result, out)
        typer.echo(f"wrote {len(paths)} files under {out}")
