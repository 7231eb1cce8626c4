"""`sunprep scan ROOT`: what a SUN RGB-D tree holds and what is wrong with it, without writing anything."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sunprep.cli.app import app, guarded
from sunprep.cli.options import Sensors, sensor_folders
from sunprep.console import console
from sunprep.errors import PartialFailure
from sunprep.progress import progress_bar
from sunprep.sunrgbd.check import ScanConfig, SceneCheck, run_scan, summarise
from sunprep.sunrgbd.depth import DepthChoice
from sunprep.train.validate import DatasetCheck, check_dataset, is_training_layout


def scan_with_bar(cfg: ScanConfig, quiet: bool = True) -> list[SceneCheck]:
    """`run_scan` under a progress bar (stderr)."""
    bar = progress_bar(quiet)
    task = bar.add_task("scan", total=None)

    def start(total: int) -> None:
        bar.update(task, total=total)
        bar.start()

    try:
        return run_scan(cfg, on_start=start, on_step=lambda done, _total: bar.update(task, completed=done))
    finally:
        bar.stop()


SCENE_WIDTH = 64  # a Kinect v2 name (000002_2014-05-22_19-58-26_260595134347_rgbf000065-resize) has 57 characters


def _table(checks: list[SceneCheck]) -> Table:
    """One row per scene, named by its folder and sensor folder; the full path is in --json."""
    table = Table(show_lines=False)
    # A 250-character scene name squeezed every other column to nothing: it is cut with an ellipsis instead.
    table.add_column("scene", no_wrap=True, overflow="ellipsis", max_width=SCENE_WIDTH)
    for col in ("sensor", "size", "labels", "names", "type", "status"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("names", "status") else "left")
    for c in checks:
        table.add_row(
            Path(c.rel_path).name,
            c.sensor or "?",
            f"{c.width}x{c.height}" if c.width else "?",
            c.label_source or "?",
            str(c.n_names),
            c.scene_type or "?",
            _status(c),
        )
    return table


def _status(c: SceneCheck) -> str:
    """`2 problems`, or `ok` / `unlabeled`, with the count of warnings recovered from."""
    if c.problems:
        return f"{len(c.problems)} problem{'s' * (len(c.problems) != 1)}"
    state = "unlabeled" if c.unlabeled else "ok"
    return f"{state} ({len(c.warnings)} warn)" if c.warnings else state


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


@app.command()
@guarded
def scan(
    root: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="SUNRGBD/ (or its parent), kv2/kinect2data/, or a folder of scenes")],
    sensors: Sensors = None,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON document on stdout instead of the table")] = False,
    depth: Annotated[
        DepthChoice, typer.Option(help="depth to check: refined (depth_bfx, else depth), raw (depth), or none (not checked)")
    ] = "refined",
    seg2d: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="toolbox SUNRGBD2Dseg.mat (v7.3)")] = None,
    seg2d_order: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="scene order of --seg2d: SUNRGBDMeta.mat or a list of paths")] = None,
    warnings: Annotated[bool, typer.Option("--warnings", "-w", help="also list what was recovered from (in the table they are counted)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """List the scenes under ROOT: label source, image size, scene type and every problem found.

    A folder in one of the layouts `train` reads (an export, or the public 128x256 Cityscapes
    `.npy` release) is validated as training data instead: every split read as `train` would.

    Writes nothing. Exit status 0: every scene reads. 1: some scene has a problem (all are listed).
    2: ROOT holds no scenes, or --seg2d cannot be read.
    """
    if is_training_layout(root):
        _scan_training_data(root, json_out, quiet)
        return
    cfg = ScanConfig(root=root, depth=depth, sensors=sensor_folders(sensors), seg2d=seg2d, seg2d_order=seg2d_order)
    checks = scan_with_bar(cfg, quiet=quiet or json_out)
    summary = summarise(checks)
    if json_out:
        doc = {"root": str(root), "summary": asdict(summary), "scenes": [asdict(c) for c in checks]}
        typer.echo(json.dumps(doc, indent=2))
    else:
        out = console(width=160)  # piped or captured: do not squeeze the table into 80 columns
        out.print(_table(checks))
        out.print(f"{summary.scenes} scenes, {summary.with_problems} with problems")
        if summary.unlabeled:
            n = summary.unlabeled
            out.print(f"{n} scene{'s' * (n != 1)} without annotation (status unlabeled): export leaves "
                          f"{'them' if n != 1 else 'it'} out unless --keep-unlabeled")
        out.print(f"label sources: {_counts(summary.label_sources)}")
        out.print(f"sizes: {_counts(summary.sizes)}")
        out.print(f"sensors: {_counts(summary.sensors)}")  # ten folders: one line
        out.print(f"scene types: {_counts(summary.scene_types)}")
        n_warn = sum(len(c.warnings) for c in checks)
        if n_warn and not warnings:
            out.print(f"{n_warn} warnings in {sum(bool(c.warnings) for c in checks)} scenes (--warnings lists them)")
        for c in checks:
            for line in c.problems:
                out.print(f"problem: {line}", markup=False, highlight=False)
            for line in c.warnings if warnings else ():
                out.print(f"warning: {line}", markup=False, highlight=False)
    if summary.with_problems:
        raise PartialFailure(f"{root}: {summary.with_problems} of {summary.scenes} scenes have problems")


def _scan_training_data(root: Path, json_out: bool, quiet: bool) -> None:
    """Validate a training-data folder; exit 1 (PartialFailure) when any split has a problem."""
    with progress_bar(quiet or json_out) as bar:
        task = bar.add_task("scan", total=None)
        check: DatasetCheck = check_dataset(root, on_step=lambda done, total: bar.update(task, completed=done, total=total))
    bad = [s for s in check.splits if s.problems]
    if json_out:
        doc = {"root": str(root), "layout": check.layout, "classes": check.n_classes,
               "classes_source": check.classes_source, "splits": [asdict(s) for s in check.splits]}  # fmt: skip
        typer.echo(json.dumps(doc, indent=2))
    else:
        out = console(width=160)
        table = Table()
        for col in ("split", "samples", "size", "classes present", "void"):
            table.add_column(col, justify="left" if col == "split" else "right")
        for s in check.splits:
            table.add_row(s.split, str(s.samples), s.size, str(s.classes_present), f"{s.void_share:.1%}")
        out.print(f"{root}: training data in the {check.layout} layout, {check.n_classes} classes ({check.classes_source})")
        out.print(table)
        for s in check.splits:
            for line in s.problems:
                out.print(f"problem: {line}", markup=False, highlight=False)
    if bad:
        raise PartialFailure(f"{root}: {len(bad)} of {len(check.splits)} splits have problems")
