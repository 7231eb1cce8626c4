"""Validation of a training-data folder (an export, or the public 128x256 Cityscapes `.npy` release).

`sunprep scan` uses it so that a folder in one of the training layouts is checked before a long
run starts on it: the same reader `train` uses, so what scan passes, train reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sunprep.errors import TrainError
from sunprep.export.cityscapes import npy_path
from sunprep.labels.classes import VOID
from sunprep.train.data import Dataset, detect_layout, open_dataset


@dataclass(frozen=True)
class SplitCheck:
    split: str
    samples: int
    size: str  # "HxW", "?" when the split could not be read
    classes_present: int  # distinct class ids in the labels
    void_share: float  # share of void pixels
    problems: tuple[str, ...]  # one line each; empty when the split reads


@dataclass(frozen=True)
class DatasetCheck:
    root: Path
    layout: str
    classes_source: str
    n_classes: int
    splits: tuple[SplitCheck, ...]


def is_training_layout(root: Path) -> bool:
    """True when `root` holds one of the layouts `train` reads (checks structure only)."""
    try:
        detect_layout(Path(root))
    except TrainError:
        return False
    return True


def _npy_depth_problems(ds: Dataset, split: str, samples: int, size: tuple[int, int]) -> list[str]:
    """The `.npy` layout also carries depth: one (H, W, 1) float file per image, read by header only."""
    if not (ds.root / split / "depth").is_dir():
        return []  # depth is optional: the release's loaders only need image and label
    problems = []
    for i in range(samples):
        path = ds.root / npy_path(split, "depth", i)
        if not path.is_file():
            problems.append(f"{path}: missing (its image exists)")
            continue
        depth = np.load(path, mmap_mode="r")
        if depth.shape[:2] != size or depth.dtype.kind != "f":
            problems.append(f"{path}: depth {depth.shape} {depth.dtype}, want {size[0]}x{size[1]}x1 float")
    return problems


def check_dataset(root: Path, workers: int = 2, on_step: Callable[[int, int], None] | None = None) -> DatasetCheck:
    """Read every split as `train` would and summarise it; a split that fails is reported, not raised."""
    ds = open_dataset(root)
    checks = []
    for k, split in enumerate(ds.splits):
        try:
            data = ds.load(split, workers)
        except TrainError as err:
            checks.append(SplitCheck(split, 0, "?", 0, 0.0, (str(err),)))
        else:
            labels = data.labels
            size = labels.shape[1:3]
            problems = _npy_depth_problems(ds, split, len(data), size) if ds.layout == "cityscapes" else []
            present = np.unique(labels)
            checks.append(SplitCheck(
                split, len(data), f"{size[0]}x{size[1]}", int((present != VOID).sum()),
                float((labels == VOID).mean()), tuple(problems),
            ))  # fmt: skip
        if on_step:
            on_step(k + 1, len(ds.splits))
    return DatasetCheck(ds.root, ds.layout, ds.classes_source, len(ds.classes), tuple(checks))
