"""A training-data folder: which export layout it is, its label space, and its splits in memory.

The readers are the format modules' own (sunprep.export.registry), so train reads exactly what
export writes; sunprep.export.reading says how a split is held in memory and checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sunprep.errors import TrainError
from sunprep.export.cityscapes_source import load_label_table
from sunprep.export.official import FILES
from sunprep.export.reading import LabelSpace, Listing, OnFile, Split, assemble
from sunprep.export.registry import SPECS, Format
from sunprep.labels.classes import ClassTable, load_classes

__all__ = ["Dataset", "Split", "cityscapes_classes", "detect_layout", "manifest_values", "open_dataset", "scene_types"]


@dataclass(frozen=True)
class Dataset:
    """A data folder: its layout, label space and a fingerprint of its file listing."""

    root: Path
    layout: Format
    classes: ClassTable
    classes_source: str  # the classes.csv read, or a note that the Cityscapes 19 were assumed
    splits: tuple[str, ...]  # the splits present, sorted
    fingerprint: str  # sha256 of layout, class table and every file's relative path and size

    def listing(self, split: str) -> Listing:
        """The samples of one split, as the layout's own reader lists them (nothing decoded yet)."""
        if split not in self.splits:
            raise TrainError(f"{self.root}: no {split!r} split (found {', '.join(self.splits) or 'none'})")
        return SPECS[self.layout].listing(self.root, split)

    @property
    def space(self) -> LabelSpace:
        return LabelSpace(self.classes, self.classes_source)

    def load(self, split: str, workers: int = 2, on_file: OnFile | None = None, depth: bool = False) -> Split:
        """Read and check one split (depth too when asked and stored); bad data raises TrainError."""
        listing = self.listing(split)
        return assemble(self.root, split, listing, self.space, workers, on_file or (lambda done, total: None), depth)


def cityscapes_classes() -> ClassTable:
    """The 19 Cityscapes train ids (official table in mappings/): the label space of the public
    `.npy` release, which has no classes.csv. The export writes the same table, so both match."""
    return load_label_table().classes


def open_dataset(root: Path) -> Dataset:
    """Detect the layout of `root` and read its class table; one-line TrainError when neither fits."""
    root = Path(root)
    if not root.is_dir():
        raise TrainError(f"{root}: not a folder")
    layout, files = detect_layout(root)
    table_path = root / "classes.csv"
    if table_path.is_file():
        classes, source = load_classes(table_path), str(table_path)
    else:
        classes, source = cityscapes_classes(), f"{table_path} absent: the 19 Cityscapes train ids assumed"
    h = hashlib.sha256(f"{layout}\n{classes.to_csv()}".encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\t{f.stat().st_size}\n".encode())
    splits = tuple(sorted({SPECS[layout].split_of(f.relative_to(root)) for f in files}))
    return Dataset(root, layout, classes, source, splits, h.hexdigest())


def detect_layout(root: Path) -> tuple[Format, list[Path]]:
    """The layout and its data files, sorted; checks only structure, not contents."""
    for name, spec in SPECS.items():
        files = spec.detect(root)
        if files:
            return name, files
    expected = ", ".join(spec.pattern for spec in SPECS.values())
    raise TrainError(f"{root}: not a known layout (expected one of {expected})")


def scene_types(ds: Dataset, split: Split, split_name: str) -> list[str] | None:
    """Each sample's SUN RGB-D scene type (`""` where unknown), or None without a manifest."""
    return manifest_values(ds, split, split_name, "scene_type")


def manifest_values(ds: Dataset, samples: Split | Listing, split_name: str, column: str) -> list[str] | None:
    """Each sample's `column` (scene type, scene name) from `manifest.parquet` at the export root,
    `""` for a sample it lacks; None without a manifest. Samples match on (split, index); the
    official layout has no index in its file names, so there a sample matches the manifest row
    whose `files` hold its image."""
    path = ds.root / "manifest.parquet"
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    cols = ["split", "index", column] + (["files"] if ds.layout == "cityscapes-official" else [])
    try:
        t = pq.read_table(path, columns=cols).to_pydict()
    except (KeyError, ValueError, OSError) as err:
        raise TrainError(f"{path}: want columns {', '.join(cols)} ({err})".splitlines()[0]) from None
    if ds.layout == "cityscapes-official":
        by_name = {Path(f).name: str(v) for fs, v in zip(t["files"], t[column]) for f in fs}
        suffix = FILES["image"][1]
        return [by_name.get(f"{i}{suffix}", "") for i in samples.ids]
    by_index = {(s, int(i)): str(v) for s, i, v in zip(t["split"], t["index"], t[column])}
    return [by_index.get((split_name, int(i)), "") for i in samples.index]
