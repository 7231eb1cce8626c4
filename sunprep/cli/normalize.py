"""`sunprep normalize`: raw SUN RGB-D names onto the 39 classes, with the evidence for each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sunprep.atomic import check_out_folder
from sunprep.cli.app import app, guarded
from sunprep.cli.options import Sensors, sensor_folders
from sunprep.console import console
from sunprep.labels.agreement import Agreement
from sunprep.labels.normalize import NormalizeConfig, NormalizeResult, run_normalize, summarise, write_outputs
from sunprep.progress import progress_bar


def _summary_text(result: NormalizeResult, summary: dict) -> str:
    unit = summary["weighted_by"]
    lines = [f"{summary['names']} names" + (f" from {summary['scenes']} scenes" if summary["scenes"] else "") + f"; shares of {unit}"]
    for method, m in summary["methods"].items():
        lines.append(f"  {method:<6} {m['names']:>6} names {100 * m['share']:6.1f} %")
    if summary["top_unmapped"]:
        lines.append(f"top unmapped by {unit}:")
        for u in summary["top_unmapped"]:
            hint = f"  (closest: {u['candidates']})" if u["candidates"] else ""
            lines.append(f"  {u['raw_label']:<24} {u[unit]:>10}{hint}")
    if result.conflicts:
        lines.append(f"{len(result.conflicts)} mapping conflicts (later file wins):")
        lines += [f"  {c.key!r}: {c.old} ({c.old_source}) -> {c.new} ({c.new_source})" for c in result.conflicts[:10]]
    if result.skipped:
        lines.append(f"{len(result.skipped)} scenes skipped (unreadable), listed in normalize.json")
    lines.append(f"fingerprint {summary['fingerprint']} (of the rules: `export --mapping` with these tables records it)")
    lines.append(f"resolved fingerprint {summary['resolved_fingerprint']} (of this table: `export --resolved` of it records it)")
    return "\n".join(lines)


TOP_NAMES = 10  # disagreeing raw names shown; agreement_names.csv has them all


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f}"


def show_agreement(agreement: Agreement, console: Console) -> None:
    """Per-class agreement and the raw names behind the most disagreeing pixels, as tables."""
    s = agreement.summary()
    view = Table(title=f"sunprep vs official seg37: {s['images_compared']} images, {s['pixels']:,} pixels")
    for col in ("class", "official px", "sunprep px", "both", "recall %", "precision %", "IoU %"):
        view.add_column(col, justify="left" if col == "class" else "right")
    for c in agreement.per_class():
        if c.official_pixels or c.sunprep_pixels:
            view.add_row(c.name, f"{c.official_pixels:,}", f"{c.sunprep_pixels:,}", f"{c.both:,}", _pct(c.recall), _pct(c.precision), _pct(c.iou))
    console.print(view)
    console.print(
        f"pixel agreement {_pct(agreement.overall())} % of all pixels (void = unlabeled), "
        f"{_pct(agreement.overall_labelled())} % where both label; {s['disagreeing_pixels']:,} pixels disagree",
        markup=False, highlight=False,
    )
    if agreement.names:
        top = Table(title=f"raw names carrying the disagreement (top {min(TOP_NAMES, len(agreement.names))} of {len(agreement.names)})")
        for col in ("raw_label", "sunprep", "official", "pixels", "scenes"):
            top.add_column(col, justify="right" if col in ("pixels", "scenes") else "left")
        for d in agreement.names[:TOP_NAMES]:
            top.add_row(d.raw_label, d.sunprep_class, d.official_class, f"{d.pixels:,}", str(d.scenes))
        console.print(top)
    if agreement.excluded:
        console.print(f"{len(agreement.excluded)} scenes not compared (listed in normalize.json)", markup=False, highlight=False)


@app.command()
@guarded
def normalize(
    mapping: Annotated[list[Path] | None, typer.Option("--mapping", "-m", exists=True, dir_okay=False, help="seglistall.csv, or raw_label,class / clean_label,class CSV; repeatable, later wins")] = None,
    root: Annotated[Path | None, typer.Option(exists=True, file_okay=False, help="dataset to collect raw names from (SUNRGBD/ or its parent, kv2/kinect2data/, or scene folders)")] = None,
    sensors: Sensors = None,
    labels: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="a plain UTF-8 list of raw names, one per line")] = None,
    seg2d: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="with --root: toolbox SUNRGBD2Dseg.mat (v7.3), labels after seg.mat, before index.json")] = None,
    seg2d_order: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="scene order of --seg2d: SUNRGBDMeta.mat or a list of paths")] = None,
    out: Annotated[Path | None, typer.Option(file_okay=False, help="write resolved.parquet/.csv, unmapped.csv, conflicts.csv, normalize.json here")] = None,
    agreement: Annotated[bool, typer.Option("--agreement", help="with --root and --seg2d: compare the resolved classes with the toolbox's official 37-class maps, pixel by pixel")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Resolve every raw name (exact, fuzzy, rule or other) and say what share of pixels went where."""
    cfg = NormalizeConfig(tuple(mapping or ()), root, labels, out, seg2d, seg2d_order, agreement, sensor_folders(sensors))
    if out is not None:
        check_out_folder(out)  # before the whole dataset is read, not after
    with progress_bar(quiet or root is None) as bar:
        task = bar.add_task("normalize", total=None)
        result = run_normalize(cfg, on_step=lambda i, n: bar.update(task, completed=i, total=n))
    err = console(stderr=True)
    for line in result.skipped:
        err.print(f"warning: skipped {line}", markup=False, highlight=False)
    for line in result.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False)
    summary = summarise(result)
    if json_out:
        if result.agreement is not None:
            summary["agreement"] = result.agreement.summary()
        typer.echo(json.dumps(summary, indent=2))
    else:
        if labels is not None:
            shown = result.table.sort_values("raw_label", kind="stable")[["raw_label", "class_name", "method", "score", "matched_key"]]
            typer.echo(shown.to_string(index=False))
        typer.echo(_summary_text(result, summary))
        if result.agreement is not None:
            show_agreement(result.agreement, console(width=200))
    if out is not None:
        for path in write_outputs(result, cfg, out):
            err.print(f"wrote {path}", markup=False, highlight=False)
