"""Reading label mapping tables: the seglistall.csv format and the simple user CSVs.

Three shapes are accepted, told apart by their header:
- seglistall (SUNRGBD_COCO): `clean_label, original_labels, ..., seg37list index, seg37list label`
  gives raw -> clean label, and class ids for the rows whose clean label is a seg37 class;
- `raw_label,class`: a raw name straight onto a class (by name or id);
- `clean_label,class`: a clean label onto a class; the project's own tables in mappings/ use this
  shape with a `comment` column.
Every problem is one line `file:line: problem`, raised as MappingError.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from rapidfuzz import process

from sunprep.errors import MappingError
from sunprep.inputs import regular_file
from sunprep.labels.canonical import canonical
from sunprep.labels.classes import ClassTable

SEGLIST_COLUMNS = ("clean_label", "original_labels", "seg37list index")
PROJECT_TABLES = ("aliases.csv", "compounds.csv", "computer.csv")  # mappings/, reviewed by hand


@dataclass(frozen=True)
class Entry:
    """One rule: where a key leads (a canonical clean label or a class id) and which row said so."""

    target: str | int
    source: str  # "file:line"
    kind: str  # how a hit is reported: "exact" (seglistall), "rule" (mappings/), "user" (--mapping CSV)


@dataclass
class MappingTable:
    """The rules of one file (or of the project's tables together), keyed by canonical names."""

    source: str
    raw_to_clean: dict[str, Entry] = field(default_factory=dict)
    raw_to_class: dict[str, Entry] = field(default_factory=dict)
    clean_to_class: dict[str, Entry] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # images per raw and clean key: breaks fuzzy ties
    warnings: list[str] = field(default_factory=list)


def class_of(value: str, classes: ClassTable, where: str) -> int:
    """A class given by id (`24`) or name (`tv`, `Night Stand`); unknown names list the closest."""
    text = value.strip()
    if text.isdigit():
        cid = int(text)
        if cid < len(classes):
            return cid
        raise MappingError(f"{where}: class id {cid} out of range 0..{len(classes) - 1}")
    wanted = canonical(text)
    keys = [canonical(n) for n in classes.names]
    if wanted in keys:
        return keys.index(wanted)
    close = process.extract(wanted, classes.names, limit=3, processor=canonical)
    hint = ", ".join(name for name, _, _ in close)
    raise MappingError(f"{where}: unknown class {text!r} (closest: {hint})")


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (a BOM is allowed: seglistall.csv has one); anything else is named, not guessed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MappingError(f"{source}: not UTF-8 (bad byte at offset {err.start}); save it as UTF-8") from None
    if not text.strip():
        raise MappingError(f"{source}: empty file")
    return text


def _put(rules: dict[str, Entry], key: str, entry: Entry, what: str) -> None:
    """Add a rule; the same key twice in one file must agree."""
    old = rules.get(key)
    if old is not None and old.target != entry.target:
        raise MappingError(
            f"{entry.source}: duplicate {what} {key!r} disagrees with {old.source} ({entry.target!r} vs {old.target!r})"
        )
    rules.setdefault(key, entry)


def parse_mapping(text: str, source: str, classes: ClassTable, kind: str = "user") -> MappingTable:
    """Parse one mapping CSV; its shape is told by the header; simple rows are reported as `kind`."""
    reader = csv.DictReader(io.StringIO(text))
    table = MappingTable(source)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        if all(c in header for c in SEGLIST_COLUMNS):
            _read_seglist(reader, table, classes)
        elif "class" in header and ("raw_label" in header or "clean_label" in header):
            _read_simple(reader, table, classes, "raw_label" if "raw_label" in header else "clean_label", kind)
        else:
            raise MappingError(
                f"{source}:1: missing columns: want `raw_label,class`, `clean_label,class` or the seglistall "
                f"columns {', '.join(SEGLIST_COLUMNS)}; found {', '.join(header) or 'none'}"
            )
    except csv.Error as err:  # e.g. a field over the csv module's 128 KiB limit: no mapping row is that long
        raise MappingError(f"{source}:{reader.line_num}: not a readable CSV row ({err})") from None
    return table


def _read_seglist(reader: csv.DictReader, table: MappingTable, classes: ClassTable) -> None:
    """seglistall rows: raw -> clean for all, clean -> class for the 37 whose seg37 index is 1..37.

    Canonical forms may collide (`garbage_bin` and `garbage bin`); the clean label of the row
    with more images wins, since they differ only cosmetically in the real table.
    """
    weights: dict[str, float] = {}  # per canonical raw key
    exact: dict[str, Entry] = {}
    for row in reader:
        where = f"{table.source}:{reader.line_num}"
        raw, clean = (row.get("original_labels") or "").strip(), canonical(row.get("clean_label") or "")
        if not raw:
            table.warnings.append(f"{where}: empty original_labels, row skipped")
            continue
        if not clean:
            raise MappingError(f"{where}: empty clean_label for {raw!r}")
        _put(exact, raw, Entry(clean, where, "exact"), "original_labels")
        weight = _number(row.get("number of images"), f"{where}: number of images")
        key = canonical(raw)
        if key not in table.raw_to_clean or weight > weights[key]:
            table.raw_to_clean[key] = Entry(clean, where, "exact")
        weights[key] = max(weight, weights.get(key, 0.0))
        table.weights[clean] = table.weights.get(clean, 0.0) + weight
        index = _seg37_index(row.get("seg37list index") or "", where)
        if index > 0:
            if index > 37:
                raise MappingError(f"{where}: seg37list index {index} out of range 1..37")
            label = (row.get("seg37list label") or "").strip()
            if label and canonical(label) != canonical(classes.names[index - 1]):
                raise MappingError(f"{where}: seg37list index {index} is {classes.names[index - 1]!r}, not {label!r}")
            _put(table.clean_to_class, clean, Entry(index - 1, where, "exact"), "clean_label")
    for key, weight in weights.items():
        table.weights[key] = max(weight, table.weights.get(key, 0.0))


def _read_simple(reader: csv.DictReader, table: MappingTable, classes: ClassTable, column: str, kind: str) -> None:
    """`raw_label,class` or `clean_label,class` rows (extra columns such as `comment` are ignored)."""
    rules = table.raw_to_class if column == "raw_label" else table.clean_to_class
    for row in reader:
        where = f"{table.source}:{reader.line_num}"
        key = canonical(row.get(column) or "")
        if not key:
            raise MappingError(f"{where}: empty {column}")
        target = row.get("class")
        if target is None or not target.strip():
            raise MappingError(f"{where}: empty class for {key!r}")
        _put(rules, key, Entry(class_of(target, classes, where), where, kind), column)


def _number(text: str | None, where: str) -> float:
    """A finite count (empty or unparsable: 0); `inf`/`nan` would poison every tie-break weight."""
    try:
        value = float(text or 0)
    except ValueError:
        return 0.0
    if not math.isfinite(value):
        raise MappingError(f"{where}: {text!r} is not a finite number")
    return value


def _seg37_index(text: str, where: str) -> int:
    """`5`, `5.0`, `0`, `-1` or empty (pandas writes floats when a column has gaps)."""
    try:
        return int(float(text)) if text.strip() else 0
    except (ValueError, OverflowError):  # "nan", "inf"
        raise MappingError(f"{where}: seg37list index {text!r} is not a number") from None


def read_mapping(path: Path, classes: ClassTable) -> MappingTable:
    """One user-given mapping file, as passed to `--mapping`."""
    path = Path(path)
    try:
        data = regular_file(path, MappingError).read_bytes()
    except OSError as err:
        raise MappingError(f"{path}: cannot read ({err.strerror})") from None
    return parse_mapping(_decode(data, str(path)), str(path), classes)


def read_project_tables(classes: ClassTable) -> MappingTable:
    """The project's hand-reviewed tables in mappings/ as one layer; they must not contradict."""
    merged = MappingTable("mappings/")
    for name in PROJECT_TABLES:
        data = resources.files("sunprep.mappings").joinpath(name).read_bytes()
        table = parse_mapping(_decode(data, f"mappings/{name}"), f"mappings/{name}", classes, "rule")
        for key, entry in table.clean_to_class.items():
            _put(merged.clean_to_class, key, entry, "clean_label")
    return merged


RESOLVED_NAME = "resolved.parquet"  # what `sunprep normalize --out DIR` writes (and resolved.csv beside it)


def read_resolved(path: Path, classes: ClassTable) -> MappingTable:
    """A resolved table of `normalize` (its folder, .parquet or .csv) as `raw_label -> class` rules.

    Its class names must match the class table: ids from another table would be silently wrong.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESOLVED_NAME
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise MappingError(f"{path}: cannot read resolved table ({err})") from None
    missing = [c for c in ("raw_label", "class_id", "class_name", "method") if c not in frame.columns]
    if missing:
        raise MappingError(f"{path}:1: missing columns: {', '.join(missing)}")
    return resolved_rules(frame, classes, str(path))


def resolved_rules(frame: pd.DataFrame, classes: ClassTable, source: str) -> MappingTable:
    """A resolved table's decisions as `raw_label -> class` rules: from its file (`read_resolved`),
    or straight from `normalize`'s result, so normalize can print the fingerprint an export of it records."""
    table = MappingTable(source)
    for line, (raw, cid, name, method) in enumerate(
        zip(frame["raw_label"], frame["class_id"], frame["class_name"], frame["method"]), start=2
    ):
        where = f"{source}:{line}"
        key = canonical(str(raw))
        if not key:
            continue  # an empty raw name resolves to other on its own
        cid = class_of(str(cid), classes, where)
        if classes.names[cid] != str(name):
            raise MappingError(f"{where}: class_id {cid} is {classes.names[cid]!r} here but {name!r} in the table")
        _put(table.raw_to_class, key, Entry(cid, where, str(method)), "raw_label")
    return table
