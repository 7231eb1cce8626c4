"""Train/val assignment: the official SUN RGB-D split file, or a split seeded by scene name.

The toolbox's `allsplit.mat` (MATLAB v5) holds `alltrain` (1x5285) and `alltest` (1x5050) as
absolute paths of the machine it was made on, e.g.
`/data1/SUNRGBD/kv2/kinect2data/000065_2014-05-16_20-14-38_260595134347_rgbf000121-resize` and,
in other copies, `/n/fs/sun3d/data/SUNRGBD/...`; thousands end with `/`. So paths are matched
on the part from the sensor folder (`kv2/`, `kv1/`, `realsense/`, `xtion/`) on. Its `test` list
becomes our `val`; `trainvalsplit` (a split of `alltrain` alone) is not used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sunprep.errors import BadInput
from sunprep.sunrgbd.mat import load_v5
from sunprep.sunrgbd.sensors import scene_key

Split = Literal["train", "val"]
SPLITS: tuple[Split, ...] = ("train", "val")
@dataclass(frozen=True)
class SplitTable:
    """The official split: scene key -> split, plus folder name -> split where the name is unique."""

    source: str
    by_key: dict[str, Split]
    by_name: dict[str, Split]

    def split_of(self, scene_dir: Path) -> Split | None:
        """The split of a scene folder, or None when the split file does not list it."""
        key = scene_key(Path(scene_dir).resolve().as_posix())
        if key in self.by_key:
            return self.by_key[key]
        return self.by_name.get(key.rsplit("/", 1)[-1])


def _paths(mat: dict, name: str, source: str) -> list[str]:
    """A MATLAB 1xN cell array of path strings as Python strings."""
    if name not in mat:
        raise BadInput(f"{source}: no `{name}` (expected the SUN RGB-D toolbox allsplit.mat)")
    cells = np.asarray(mat[name], dtype=object).ravel()
    out = []
    for cell in cells:
        value = np.asarray(cell).ravel()
        if value.size != 1 or not isinstance(value[0], str):
            raise BadInput(f"{source}: `{name}` holds a non-string entry {cell!r}")
        out.append(value[0])
    return out


def load_split_file(path: Path) -> SplitTable:
    """Read `allsplit.mat`; raises BadInput if it is not a MAT file or lists a scene twice."""
    source = str(path)
    mat = load_v5(Path(path), ["alltrain", "alltest"])  # a text list, an empty or a v7.3 file: one line
    by_key: dict[str, Split] = {}
    pairs: tuple[tuple[Split, str], ...] = (("train", "alltrain"), ("val", "alltest"))
    for split, var in pairs:
        for p in _paths(mat, var, source):
            key = scene_key(p)
            if by_key.get(key, split) != split:
                raise BadInput(f"{source}: {key} is listed in both alltrain and alltest")
            by_key[key] = split
    names: dict[str, list[Split]] = {}
    for key, split in by_key.items():
        names.setdefault(key.rsplit("/", 1)[-1], []).append(split)
    by_name = {n: s[0] for n, s in names.items() if len(s) == 1}
    return SplitTable(source, by_key, by_name)


def hashed_split(scene_dir: Path, val_fraction: float, seed: int) -> Split:
    """A split that depends only on the seed and the scene folder's name.

    A scene keeps its split however the dataset is rooted, and adding or removing other scenes
    moves none of the rest, unlike a shuffled list cut at a fraction.
    """
    digest = hashlib.sha256(f"{seed}:{Path(scene_dir).name}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "val" if u < val_fraction else "train"
