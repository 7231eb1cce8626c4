"""Inspecting a resolved table: filter, sort, show examples, and accept reviewed suggestions.

Accepting writes `accepted.csv` (`raw_label,class,comment`) beside the table; the next
`sunprep normalize --out` into that folder reads it as the top mapping layer, so a reviewed
suggestion becomes a rule (method `user`) instead of a guess.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from sunprep.atomic import write_text_atomic
from sunprep.errors import BadInput, MappingError
from sunprep.labels.canonical import canonical
from sunprep.labels.classes import load_classes
from sunprep.labels.normalize import ACCEPTED_NAME, COLUMNS
from sunprep.labels.resolve import METHODS
from sunprep.labels.tables import RESOLVED_NAME, class_of

SortKey = Literal["pixels", "images", "score", "raw_label", "class_name"]
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)


@dataclass(frozen=True)
class ReportQuery:
    methods: tuple[str, ...] = ()  # empty: all
    classes: tuple[str, ...] = ()  # names or ids; empty: all
    min_count: int = 0  # images holding the name (occurrences for a --labels list)
    min_score: float = 0.0
    max_score: float = 100.0
    sort: SortKey = "pixels"  # descending for counts and score, ascending for names
    limit: int | None = None


def load_table(path: Path) -> tuple[pd.DataFrame, Path]:
    """The resolved table of a `normalize --out` folder (or the file itself) and its folder."""
    path = Path(path)
    file = path / RESOLVED_NAME if path.is_dir() else path
    if not file.is_file():
        raise BadInput(f"{file}: no resolved table (run `sunprep normalize --out {path}` first)")
    try:
        table = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise BadInput(f"{file}: cannot read ({err})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise BadInput(f"{file}: missing columns {', '.join(missing)}")
    return table, file.parent


def select(table: pd.DataFrame, query: ReportQuery) -> pd.DataFrame:
    """Rows matching every filter, sorted; raw_label breaks ties so the order is stable."""
    bad = [m for m in query.methods if m not in METHODS]
    if bad:
        raise BadInput(f"--method {bad[0]!r}: expected one of {', '.join(METHODS)}")
    if query.sort not in SORT_KEYS:
        raise BadInput(f"--sort {query.sort!r}: expected one of {', '.join(SORT_KEYS)}")
    keep = pd.Series(True, index=table.index)
    if query.methods:
        keep &= table["method"].isin(query.methods)
    if query.classes:
        classes = load_classes()
        try:
            names = {classes.names[class_of(c, classes, "--class")] for c in query.classes}
        except MappingError as err:  # a bad option value, not a bad table: exit 2
            raise BadInput(str(err)) from None
        keep &= table["class_name"].isin(names)
    keep &= (table["images"] >= query.min_count) & table["score"].between(query.min_score, query.max_score)
    ascending = query.sort in ("raw_label", "class_name")
    out = table[keep].sort_values([query.sort, "raw_label"], ascending=[ascending, True], kind="stable")
    return out.head(query.limit) if query.limit is not None else out


def examples(table: pd.DataFrame, name: str) -> list[str]:
    """Example scenes of a raw name (matched as typed, else by canonical form)."""
    rows = table[table["raw_label"] == name]
    if rows.empty:
        rows = table[table["canonical"] == canonical(name)]
    if rows.empty:
        raise BadInput(f"{name!r}: no such raw name in the table")
    return [s for cell in rows["examples"] for s in str(cell).split("; ") if s]


def accept(rows: pd.DataFrame, folder: Path) -> tuple[Path, int]:
    """Append the rows' suggested classes to `folder/accepted.csv` (a row given again replaces the old one).

    With no suggestion among the rows nothing is written (n = 0): an unchanged file asks for no re-run.
    """
    dest = Path(folder) / ACCEPTED_NAME
    new = {r.raw_label: (r.suggested_class, f"accepted {r.method}: {r.candidates}") for r in rows.itertuples() if r.suggested_class}
    if not new:
        return dest, 0
    accepted: dict[str, tuple[str, str]] = {}
    if dest.is_file():
        with dest.open(encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                accepted[r["raw_label"]] = (r["class"], r.get("comment", ""))
    accepted.update(new)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["raw_label", "class", "comment"])
    w.writerows([raw, cls, comment] for raw, (cls, comment) in sorted(accepted.items()))
    write_text_atomic(dest, out.getvalue())
    return dest, len(new)
