"""`sunprep normalize`: raw SUN RGB-D names onto the 39 classes, with the evidence for each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sunprep.cli.app import app, guarded
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
    lines.append(f"fingerprint {summary['fingerprint']}")
    return "\n".join(lines)


@app.command()
@guarded
def normalize(
    mapping: Annotated[list[Path] | None, typer.Option("--mapping", "-m", exists=True, dir_okay=False, help="seglistall.csv, or raw_label,class / clean_label,class CSV; repeatable, later wins")] = None,
    root: Annotated[Path | None, typer.Option(exists=True, file_okay=False, help="dataset to collect raw names from (SUNRGBD/ or its parent, kv2/kinect2data/, or scene folders)")] = None,
    labels: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="a plain UTF-8 list of raw names, one per line")] = None,
    seg2d: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="with --root: toolbox SUNRGBD2Dseg.mat (v7.3), labels after seg.mat, before index.json")] = None,
    seg2d_order: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="scene order of --seg2d: SUNRGBDMeta.mat or a list of paths")] = None,
    out: Annotated[Path | None, typer.Option(file_okay=False, help="write resolved.parquet/.csv, unmapped.csv, conflicts.csv, normalize.json here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Resolve every raw name (exact, fuzzy, rule or other) and say what share of pixels went where."""
    cfg = NormalizeConfig(tuple(mapping or ()), root, labels, out, seg2d, seg2d_order)
    with progress_bar(quiet or root is None) as bar:
        task = bar.add_task("normalize", total=None)
        result = run_normalize(cfg, on_step=lambda i, n: bar.update(task, completed=i, total=n))
    err = Console(stderr=True)
    for line in result.skipped:
        err.print(f"warning: skipped {line}", markup=False, highlight=False)
    for line in result.warnings:
        err.print(f"warning: {line}", markup=False, highlight=False)
    summary = summarise(result)
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        if labels is not None:
            shown = result.table.sort_values("raw_label", kind="stable")[["raw_label", "class_name", "method", "score", "matched_key"]]
            typer.echo(shown.to_string(index=False))
        typer.echo(_summary_text(result, summary))
    if out is not None:
        for path in write_outputs(result, cfg, out):
            err.print(f"wrote {path}", markup=False, highlight=False)
