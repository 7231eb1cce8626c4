"""Where sunprep's classes and the toolbox's official 37 disagree, pixel by pixel, and which raw names carry it.

The toolbox's `SUNRGBD2Dseg.mat` holds for every image both the raw names (`seglabelall`) and
the official 37-class map (`seglabel`) made from them. A pixel's sunprep class is a function of
its raw name alone, so one pass over the images only counts (raw name, official class) pairs, one
`bincount` per image; the confusion between sunprep's classes and the official ones follows from
those counts once the names are resolved, and so does the list of names behind every
disagreement. Nothing loops over pixels or classes in Python, which keeps 10,335 images cheap.

Rows are sunprep's classes plus `void` (pixels without a raw name); columns are the official
`unlabeled` (0) and classes 1..37. A sunprep class agrees with the official class of the same
name (ids 0..36 are the seg37 list in both), and `void` agrees with `unlabeled`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sunprep.atomic import write_text_atomic
from sunprep.labels.classes import SEG37, ClassTable

UNLABELED = "unlabeled"  # the official maps' 0
VOID_ROW = "void"  # sunprep: a pixel no raw name covers
NO_NAME = "(no raw name)"  # the raw label 0 in the names table
COLUMNS = SEG37 + 1  # official values 0..37
CONFUSION_NAME, CLASSES_NAME, NAMES_NAME = "agreement_confusion.csv", "agreement_classes.csv", "agreement_names.csv"


@dataclass
class AgreementCounter:
    """(raw name, official value) pixel and image counts, accumulated image by image."""

    name_ids: dict[str, int] = field(default_factory=dict)  # raw name -> row (row 0: no raw name)
    pixels: np.ndarray = field(default_factory=lambda: np.zeros((64, COLUMNS), np.int64))
    scenes: np.ndarray = field(default_factory=lambda: np.zeros((64, COLUMNS), np.int64))
    compared: int = 0
    excluded: list[str] = field(default_factory=list)  # "scene: reason", scenes without both maps

    def _rows(self, names: tuple[str, ...]) -> np.ndarray:
        rows = np.empty(len(names) + 1, np.intp)
        rows[0] = 0
        for k, name in enumerate(names, start=1):
            rows[k] = self.name_ids.setdefault(name, len(self.name_ids) + 1)
        if len(self.name_ids) + 1 > len(self.pixels):
            grow = max(len(self.name_ids) + 1, 2 * len(self.pixels)) - len(self.pixels)
            self.pixels = np.vstack([self.pixels, np.zeros((grow, COLUMNS), np.int64)])
            self.scenes = np.vstack([self.scenes, np.zeros((grow, COLUMNS), np.int64)])
        return rows

    def add(self, labels: np.ndarray, names: tuple[str, ...], official: np.ndarray) -> None:
        """Count one image: `labels` 1-based into `names` (0 none), `official` 0..37, same shape."""
        if labels.shape != official.shape:
            raise ValueError(f"label maps of shapes {labels.shape} and {official.shape}")
        codes = labels.ravel().astype(np.intp) * COLUMNS + official.ravel()
        local = np.bincount(codes, minlength=(len(names) + 1) * COLUMNS).reshape(-1, COLUMNS)
        rows = self._rows(names)
        # A name listed twice in one image counts its pixels once each, but the image once.
        uniq, inverse = np.unique(rows, return_inverse=True)
        merged = np.zeros((len(uniq), COLUMNS), np.int64)
        np.add.at(merged, inverse, local)
        self.pixels[uniq] += merged
        self.scenes[uniq] += merged > 0
        self.compared += 1

    def exclude(self, scene: str, reason: str) -> None:
        self.excluded.append(f"{scene}: {reason}")

    def finish(self, class_of: Mapping[str, int], classes: ClassTable) -> Agreement:
        """Resolve the counted names (`class_of`: raw name -> sunprep class id) into the report."""
        n = len(self.name_ids) + 1
        names = [NO_NAME, *self.name_ids]  # dicts keep insertion order: row k is names[k]
        void = len(classes)  # the confusion's last row
        row_class = np.array([void, *(class_of[name] for name in names[1:])], np.intp)
        pixels, scenes = self.pixels[:n], self.scenes[:n]
        confusion = np.zeros((len(classes) + 1, COLUMNS), np.int64)
        np.add.at(confusion, row_class, pixels)
        # The official value that agrees with each row's class: seg37 class c is value c + 1,
        # void is unlabeled (0); computer, other and anything past seg37 agree with none (-1).
        agreeing = np.where(row_class == void, 0, np.where(row_class < SEG37, row_class + 1, -1))
        disagree = np.arange(COLUMNS)[None, :] != agreeing[:, None]
        r, c = np.nonzero(disagree & (pixels > 0))
        order = np.lexsort((c, r, -pixels[r, c]))  # most pixels first; ties in a fixed order
        r, c = r[order], c[order]
        rows = [
            NameDisagreement(names[i], row_name(classes, int(row_class[i])), column_name(classes, int(j)), int(pixels[i, j]), int(scenes[i, j]))
            for i, j in zip(r.tolist(), c.tolist())
        ]
        return Agreement(classes, confusion, rows, self.compared, list(self.excluded))


def row_name(classes: ClassTable, row: int) -> str:
    return VOID_ROW if row == len(classes) else classes.names[row]


def column_name(classes: ClassTable, column: int) -> str:
    return UNLABELED if column == 0 else classes.names[column - 1]


@dataclass(frozen=True)
class NameDisagreement:
    """Pixels of one raw name that sunprep puts in one class and the official map in another."""

    raw_label: str
    sunprep_class: str
    official_class: str
    pixels: int
    scenes: int  # images where this raw name has such pixels


@dataclass(frozen=True)
class ClassAgreement:
    name: str
    official_pixels: int  # pixels of the class in the official maps (0 for computer/other/void: see unlabeled)
    sunprep_pixels: int
    both: int  # pixels both give this class
    recall: float  # both / official: how much of the official class sunprep keeps; NaN if none
    precision: float  # both / sunprep: how much of sunprep's class the official map confirms; NaN if none
    iou: float  # both / (official + sunprep - both); NaN if neither has the class


@dataclass(frozen=True)
class Agreement:
    """The confusion (rows sunprep's classes + void, columns unlabeled + official 1..37) and its readings."""

    classes: ClassTable
    confusion: np.ndarray  # int64 (len(classes) + 1, 38)
    names: list[NameDisagreement]  # disagreeing (raw name, sunprep, official) pixels, most first
    compared: int  # images counted
    excluded: list[str]  # images without both maps, with the reason

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    def agreeing(self) -> np.ndarray:
        """Per row, the pixels in the column that agrees with it (0 for rows no column agrees with)."""
        k = len(self.classes)
        out = np.zeros(k + 1, np.int64)
        out[:SEG37] = self.confusion[np.arange(SEG37), np.arange(1, COLUMNS)]
        out[k] = self.confusion[k, 0]
        return out

    def overall(self) -> float:
        """Share of all compared pixels on which both agree (void = unlabeled counts as agreement)."""
        return float(self.agreeing().sum() / self.total) if self.total else float("nan")

    def overall_labelled(self) -> float:
        """Share of agreement among the pixels both label (neither void nor unlabeled)."""
        k = len(self.classes)
        both = self.confusion[:k, 1:]
        return float(self.agreeing()[:SEG37].sum() / both.sum()) if both.sum() else float("nan")

    def per_class(self) -> list[ClassAgreement]:
        """One row per sunprep class and void, in class order."""
        k = len(self.classes)
        official = np.zeros(k + 1, np.int64)
        official[:SEG37] = self.confusion[:, 1:].sum(axis=0)
        official[k] = self.confusion[:, 0].sum()
        sunprep = self.confusion.sum(axis=1)
        both = self.agreeing()

        def ratio(a: int, b: int) -> float:
            return a / b if b else float("nan")

        return [
            ClassAgreement(
                row_name(self.classes, i), int(official[i]), int(sunprep[i]), int(both[i]),
                ratio(int(both[i]), int(official[i])), ratio(int(both[i]), int(sunprep[i])),
                ratio(int(both[i]), int(official[i] + sunprep[i] - both[i])),
            )
            for i in range(k + 1)
        ]

    def summary(self) -> dict:
        return {
            "images_compared": self.compared,
            "images_excluded": len(self.excluded),
            "pixels": self.total,
            "overall_agreement": round(self.overall(), 6),
            "agreement_where_both_label": round(self.overall_labelled(), 6),
            "disagreeing_pixels": int(self.total - self.agreeing().sum()),
            "excluded": self.excluded,
        }


def _csv(header: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:.6f}"  # NaN: an empty cell, as pandas writes it


def write_agreement(agreement: Agreement, out: Path) -> list[Path]:
    """`agreement_confusion.csv`, `agreement_classes.csv`, `agreement_names.csv`, each atomically."""
    out = Path(out)
    classes = agreement.classes
    k = len(classes)
    columns = [column_name(classes, j) for j in range(COLUMNS)]
    confusion = [[row_name(classes, i), *agreement.confusion[i].tolist()] for i in range(k + 1)]
    per_class = [[c.name, c.official_pixels, c.sunprep_pixels, c.both, _fmt(c.recall), _fmt(c.precision), _fmt(c.iou)] for c in agreement.per_class()]
    names = [[d.raw_label, d.sunprep_class, d.official_class, d.pixels, d.scenes] for d in agreement.names]
    paths = [out / CONFUSION_NAME, out / CLASSES_NAME, out / NAMES_NAME]
    write_text_atomic(paths[0], _csv(["sunprep \\ official", *columns], confusion))
    write_text_atomic(paths[1], _csv(["class", "official_pixels", "sunprep_pixels", "both", "recall", "precision", "iou"], per_class))
    write_text_atomic(paths[2], _csv(["raw_label", "sunprep_class", "official_class", "pixels", "scenes"], names))
    return paths
