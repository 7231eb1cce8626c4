"""`sunprep export`: SUN RGB-D (or Cityscapes) into Cityscapes-shaped training files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import ProgressColumn, Task
from rich.text import Text

from sunprep.cli.app import app, guarded
from sunprep.cli.options import Sensors, sensor_folders
from sunprep.errors import BadInput, PartialFailure
from sunprep.export.cityscapes import DepthEncoding
from sunprep.export.manifest import Skipped
from sunprep.export.registry import Format
from sunprep.export.resize import DEFAULT_FIT, Fit, size_problem
from sunprep.export.run import Dataset, ExportConfig, Hooks, LabelSpace, run_export
from sunprep.export.shards import DEFAULT_SHARD_BYTES
from sunprep.export.sources import DepthChoice
from sunprep.progress import progress_bar
from sunprep.sunrgbd.depth import NO_DEPTH
from sunprep.train.config import SEED_MAX, WORKERS_MAX


class SpeedColumn(ProgressColumn):
    """Scenes per second, from rich's own moving estimate."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:.1f} scenes/s")


def parse_size(text: str) -> tuple[int, int]:
    """`128x256` -> (128, 256): height first, as Cityscapes sizes are quoted."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected HxW such as 128x256", param_hint="--size") from None
    problem = size_problem((h, w))
    if problem:
        raise typer.BadParameter(f"{text!r}: {problem}", param_hint="--size")
    return h, w


ROOT_HELP = "SUNRGBD/ (or kv2/kinect2data/, or a folder of scenes); a Cityscapes release with --dataset cityscapes"
FORMAT_HELP = "cityscapes: the 128x256 .npy release layout; cityscapes-official: leftImg8bit/gtFine PNGs; parquet: shards"
LABEL_SPACE_HELP = (
    "sunprep39: raw names resolved to sunprep's 39 classes; "
    "seg37-official: the toolbox's 37-class seglabel maps (needs --seg2d), as published results use"
)
DEPTH_HELP = "depth source: refined depth_bfx/ (Cityscapes: disparity/), raw depth/, or none (no depth written, in any format)"
FIT_HELP = "crop: centre-crop to the output aspect (no distortion, no padding); stretch; pad (void borders)"


@app.command()
@guarded
def export(
    root: Annotated[Path, typer.Option("--root", exists=True, file_okay=False, help=ROOT_HELP)],
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="output folder; re-running resumes it")],
    fmt: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = "cityscapes",
    dataset: Annotated[Dataset, typer.Option("--dataset", help="sunrgbd, or the official Cityscapes release")] = "sunrgbd",
    sensors: Sensors = None,
    size: Annotated[str, typer.Option("--size", help="output HxW")] = "128x256",
    fit: Annotated[Fit, typer.Option("--fit", help=FIT_HELP)] = DEFAULT_FIT,
    resolved: Annotated[Path | None, typer.Option("--resolved", exists=True, help="output of `sunprep normalize`")] = None,
    mapping: Annotated[
        list[Path] | None, typer.Option("--mapping", exists=True, dir_okay=False, help="mapping CSV (repeatable)")
    ] = None,
    split_file: Annotated[
        Path | None, typer.Option("--split-file", exists=True, dir_okay=False, help="toolbox allsplit.mat; its test is val")
    ] = None,
    seg2d: Annotated[
        Path | None, typer.Option("--seg2d", exists=True, dir_okay=False, help="toolbox SUNRGBD2Dseg.mat (v7.3): labels after seg.mat, before index.json")
    ] = None,
    seg2d_order: Annotated[
        Path | None, typer.Option("--seg2d-order", exists=True, dir_okay=False, help="scene order of --seg2d: SUNRGBDMeta.mat or a list of paths")
    ] = None,
    label_space: Annotated[LabelSpace, typer.Option("--label-space", help=LABEL_SPACE_HELP)] = "sunprep39",
    val_fraction: Annotated[float, typer.Option("--val-fraction", min=0, max=1, help="else: share of val, by scene name")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX, help="seed of that split")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, max=WORKERS_MAX, help="worker processes (default: all cores)")] = None,
    depth: Annotated[DepthChoice, typer.Option("--depth", help=DEPTH_HELP)] = "refined",
    depth_encoding: Annotated[DepthEncoding, typer.Option("--depth-encoding", help=".npy depth: metres or 1/m")] = "metres",
    shard_mb: Annotated[
        float, typer.Option("--shard-mb", min=0.001, max=2**20, help="parquet: bound on a shard's PNG bytes, MiB")
    ] = DEFAULT_SHARD_BYTES / 2**20,
    strict: Annotated[bool, typer.Option("--strict", help="stop at the first bad scene (exit 2)")] = False,
    keep_unlabeled: Annotated[
        bool, typer.Option("--keep-unlabeled", help="export scenes without annotation as all-void samples instead of leaving them out")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Export resized, normalised samples (image, labels, depth) in a Cityscapes layout.

    Exit status: 0 every scene exported.

    1 some scenes skipped, each named on stderr and in OUT/report.json; the rest exported. Scenes
    without annotation are left out (counted, listed in report.json) without changing the status.

    2 bad input as a whole (no scenes, unreadable split file or --seg2d, OUT made with other settings),
    or with --strict the first bad scene.

    4 a malformed mapping table.
    """
    cfg = ExportConfig(
        root=root,
        out=out,
        format=fmt,
        dataset=dataset,
        sensors=sensor_folders(sensors),
        size=parse_size(size),
        fit=fit,
        depth=depth,
        depth_encoding=depth_encoding,
        resolved=resolved,
        mappings=tuple(mapping or ()),
        split_file=split_file,
        seg2d=seg2d,
        seg2d_order=seg2d_order,
        label_space=label_space,
        val_fraction=val_fraction,
        seed=seed,
        shard_bytes=int(shard_mb * 2**20),
        workers=workers or os.cpu_count() or 1,
        strict=strict,
        keep_unlabeled=keep_unlabeled,
    )
    bar = progress_bar(quiet)
    bar.columns = (*bar.columns, SpeedColumn())
    task = bar.add_task("export", total=None)

    def start(total: int) -> None:
        # Started only now: the export forks its workers first, before the bar's thread exists.
        bar.update(task, total=total)
        bar.start()

    def skip(s: Skipped) -> None:
        if not s.unlabeled:  # a fault, named as it happens; scenes left out unlabeled are counted at the end
            bar.console.print(f"skipped: {s.reason}", markup=False, highlight=False, soft_wrap=True)

    try:
        report = run_export(cfg, Hooks(start=start, step=lambda: bar.advance(task), skip=skip))
    finally:
        bar.stop()
    counts = ", ".join(f"{n} {split}" for split, n in report.counts.items())
    resumed = f" ({report.resumed} from an earlier run)" if report.resumed else ""
    depth_note = ", no depth" if cfg.depth == NO_DEPTH else ""
    typer.echo(f"exported {counts}{resumed} to {report.out} as {cfg.format} {cfg.size[0]}x{cfg.size[1]} ({cfg.fit}){depth_note}")
    if len(report.sensors) > 1:
        typer.echo("by sensor: " + "; ".join(f"{f} {', '.join(f'{n} {split}' for split, n in c.items())}" for f, c in report.sensors.items()))
    typer.echo(f"{report.processed} scenes read in {report.seconds:.1f} s; manifest.parquet, classes.csv, report.json written")
    typer.echo(f"mapping fingerprint {report.mapping_fingerprint}")
    for line in report.split_warnings:
        typer.echo(f"warning: {line}", err=True)
    if report.warnings:
        typer.echo(f"{len(report.warnings)} reader warnings (recovered), listed in report.json and manifest.parquet")
    unlabeled = sum(s.unlabeled for s in report.skipped)
    if unlabeled:
        them = "them as all-void samples" if unlabeled != 1 else "it as an all-void sample"
        typer.echo(f"{unlabeled} scene{'s' * (unlabeled != 1)} without annotation left out (listed in report.json; "
                   f"--keep-unlabeled exports {them})")
    if unlabeled and not sum(report.counts.values()):
        raise BadInput(f"{root}: no scene has annotation; --keep-unlabeled exports them as all-void samples")
    if n := len(report.skipped) - unlabeled:
        raise PartialFailure(f"{report.out}: {n} scene{'s' if n != 1 else ''} skipped, listed in report.json")
