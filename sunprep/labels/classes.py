"""The class table (`mappings/classes.csv`) as data: ids, names, display colours.

Arrays carry void as -1; PNGs, which are unsigned, carry it as 255 (`VOID_PNG`). Code derives
every lookup from the table; nothing is typed twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sunprep.errors import MappingError

VOID = -1  # void in int arrays (`.npy`, tensors): the Cityscapes .npy release and MTAN use -1
VOID_PNG = 255  # void in uint8 label PNGs, as in Cityscapes `*_labelTrainIds.png`
SEG37 = 37  # ids 0..36 of mappings/classes.csv are SUN RGB-D's seg37 list, in its official order


@dataclass(frozen=True)
class ClassTable:
    """Ordered classes: `names[i]` is class id `i`, `colours[i]` its RGB display colour."""

    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]

    def __len__(self) -> int:
        return len(self.names)

    def id_of(self, name: str) -> int:
        """Class id by name (case-insensitive); raises MappingError for an unknown name."""
        key = name.strip().lower()
        for i, n in enumerate(self.names):
            if n == key:
                return i
        raise MappingError(f"unknown class name {name!r}")

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 colour lookup for label PNGs: class ids, then black for void."""
        lut = np.zeros((256, 3), np.uint8)
        lut[: len(self.colours)] = np.asarray(self.colours, np.uint8)
        return lut

    def to_csv(self) -> str:
        """The table in the same `class_id,name,r,g,b` form it is read from."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["class_id", "name", "r", "g", "b"])
        for i, (n, c) in enumerate(zip(self.names, self.colours)):
            w.writerow([i, n, *c])
        return out.getvalue()


def parse_classes(text: str, source: str) -> ClassTable:
    """Parse a `class_id,name,r,g,b` table; ids must run 0..n-1 in order and stay below 255."""
    rows = list(csv.DictReader(io.StringIO(text)))
    names: list[str] = []
    colours: list[tuple[int, int, int]] = []
    for line, row in enumerate(rows, start=2):
        try:
            cid = int(row["class_id"])
            colour = (int(row["r"]), int(row["g"]), int(row["b"]))
            name = row["name"].strip().lower()
        except (KeyError, TypeError, ValueError) as err:
            raise MappingError(f"{source}:{line}: expected class_id,name,r,g,b ({err})") from None
        if cid != len(names):
            raise MappingError(f"{source}:{line}: class_id {cid} out of order, expected {len(names)}")
        if cid >= VOID_PNG:
            raise MappingError(f"{source}:{line}: class_id {cid} collides with void ({VOID_PNG})")
        if not name or name in names:
            raise MappingError(f"{source}:{line}: empty or duplicate class name {name!r}")
        names.append(name)
        colours.append(colour)
    if not names:
        raise MappingError(f"{source}: no classes")
    return ClassTable(tuple(names), tuple(colours))


def load_classes(path: Path | None = None) -> ClassTable:
    """The project's 39-class table (seg37 + computer + other), or a table given by path."""
    if path is None:
        text = resources.files("sunprep.mappings").joinpath("classes.csv").read_text("utf-8")
        return parse_classes(text, "mappings/classes.csv")
    return parse_classes(Path(path).read_text("utf-8"), str(path))


def seg37_classes(table: ClassTable | None = None) -> ClassTable:
    """The official 37 classes (`SUNRGBD2Dseg.mat`'s `seglabel` k is id k - 1), named and
    coloured by the project's table, whose first 37 rows are that list in order."""
    table = load_classes() if table is None else table
    return ClassTable(table.names[:SEG37], table.colours[:SEG37])


def seg37_lut() -> np.ndarray:
    """int16 lookup from an official map's values to class ids: 0 (unlabeled) is void."""
    return np.arange(-1, SEG37, dtype=np.int16)
