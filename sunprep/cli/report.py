"""`sunprep report`: look into a resolved table, and turn reviewed suggestions into rules."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from sunprep.cli.app import app, guarded
from sunprep.console import console
from sunprep.labels.report import ReportQuery, SortKey, accept, examples, load_table, select
from sunprep.labels.resolve import METHODS
from sunprep.train.config import COUNT_MAX

Output = Literal["table", "csv", "json"]
# An Enum built from resolve.METHODS: typer reads a list of Enum members, not a list of Literal.
MethodChoice = Enum("MethodChoice", {m: m for m in METHODS})  # type: ignore[misc]  # members from the table, at run time
SHOWN = ("raw_label", "class_name", "method", "score", "images", "pixels", "matched_key", "candidates")


@app.command()
@guarded
def report(
    path: Annotated[Path, typer.Argument(help="a `normalize --out` folder, or its resolved.parquet/.csv")] = Path("normalized"),
    method: Annotated[list[MethodChoice] | None, typer.Option(help="how the name was resolved; repeatable")] = None,
    class_: Annotated[list[str] | None, typer.Option("--class", help="class name or id; repeatable")] = None,
    min_count: Annotated[int, typer.Option(min=0, max=COUNT_MAX, help="only names in at least this many images")] = 0,
    min_score: Annotated[float, typer.Option(min=0, max=100, help="only names scoring at least this")] = 0.0,
    max_score: Annotated[float, typer.Option(min=0, max=100, help="only names scoring at most this")] = 100.0,
    sort: Annotated[SortKey, typer.Option(help="descending for counts and score, ascending for names")] = "pixels",
    limit: Annotated[int | None, typer.Option(min=0, max=COUNT_MAX, help="show at most this many rows")] = None,
    fmt: Annotated[Output, typer.Option("--format", help="a table to read, or csv / json for other tools")] = "table",
    examples_of: Annotated[str | None, typer.Option("--examples", help="list the example scenes of this raw name")] = None,
    accept_rows: Annotated[bool, typer.Option("--accept", help="write the selected rows' suggested classes to accepted.csv beside the table (default selection: --method fuzzy)")] = False,
) -> None:
    """Filter and sort the resolved names; --accept makes reviewed suggestions rules for the next normalize."""
    table, folder = load_table(path)
    if examples_of is not None:
        for scene in examples(table, examples_of):
            typer.echo(scene)
        return
    methods = tuple(m.value for m in method) if method else (("fuzzy",) if accept_rows else ())
    rows = select(table, ReportQuery(methods, tuple(class_ or ()), min_count, min_score, max_score, sort, limit))
    if accept_rows:
        dest, n = accept(rows, folder)
        if n == 0:  # exit 0: an empty selection is an answer (nothing left to review), not a failure
            typer.echo(f"nothing to accept: {len(rows)} rows selected, none with a suggested class; {dest.name} unchanged")
        else:
            typer.echo(f"accepted {n} names into {dest}; run normalize --out {folder} again to apply them")
        return
    if fmt == "csv":
        typer.echo(rows.to_csv(index=False, lineterminator="\n"), nl=False)
    elif fmt == "json":
        typer.echo(rows.to_json(orient="records", indent=2))
    else:
        view = Table(title=f"{len(rows)} of {len(table)} names")
        for col in SHOWN:
            view.add_column(col, justify="right" if col in ("score", "images", "pixels") else "left")
        for r in rows[list(SHOWN)].itertuples(index=False):
            view.add_row(*(f"{v:g}" if isinstance(v, float) else str(v) for v in r))
        console(width=200).print(view)
