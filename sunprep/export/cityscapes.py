"""`--format cityscapes`: the layout of the popular 128x256 Cityscapes `.npy` release.

`OUT/{train,val}/{image,label,depth}/<i>.npy`, i = 0..n-1 unpadded per split, so loaders written
for that release (MTAN and its descendants count `image/*.npy` and open `{i}.npy`) read SUN RGB-D
unchanged. image float32 (H, W, 3) in [0, 1]; label int64 (H, W), void -1 (their
`ignore_index=-1`); depth float32 (H, W, 1), metres or, with `inverse`, 1/metres as that release
stores it; 0 = missing either way. The writer and the reader of this layout are both here, so
what `train` reads is exactly what `export` writes (and the public release itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from sunprep.errors import TrainError
from sunprep.export.formats import FilePerRole
from sunprep.export.reading import Listing, Record
from sunprep.export.sample import Meta, Sample, npy_bytes

NAME = "cityscapes"
ROLES = ("image", "label", "depth")
DepthEncoding = Literal["metres", "inverse"]


def npy_path(split: str, role: str, index: int) -> str:
    """A sample's file, relative to the export root: `train/label/17.npy`."""
    return f"{split}/{role}/{index}.npy"


def depth_channel(depth: np.ndarray, encoding: DepthEncoding) -> np.ndarray:
    """(H, W, 1) float32 metres, or 1/metres where valid; missing stays 0."""
    if encoding == "inverse":
        depth = np.divide(1.0, depth, out=np.zeros_like(depth), where=depth > 0)
    return depth.astype(np.float32)[..., None]


@dataclass(frozen=True)
class NpyWriter(FilePerRole):
    out: Path
    depth_encoding: DepthEncoding = "metres"
    name: ClassVar[str] = NAME

    def encode(self, sample: Sample) -> dict[str, bytes]:
        files = {
            "image": npy_bytes(sample.image.astype(np.float32) / np.float32(255.0)),
            "label": npy_bytes(sample.label.astype(np.int64)),
        }
        if sample.depth is not None:
            files["depth"] = npy_bytes(depth_channel(sample.depth, self.depth_encoding))
        return files

    def paths(self, split: str, index: int, meta: Meta) -> dict[str, str]:
        return {role: npy_path(split, role, index) for role in ROLES}


def detect(root: Path) -> list[Path]:
    """The layout's image and label files under `root`, sorted; empty when it holds none."""
    images = sorted(root.glob("*/image/*.npy"))
    return images + sorted(root.glob("*/label/*.npy")) if images else []


def split_of(rel: Path) -> str:
    return rel.parts[0]


def load_npy(path: Path) -> np.ndarray:
    """np.load without pickles; anything unreadable (truncated, empty, object arrays) is one line."""
    if not path.is_file():
        raise TrainError(f"{path}: missing (its image exists)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise TrainError(f"{path}: not a readable .npy array ({err or type(err).__name__})".splitlines()[0]) from None


def listing(root: Path, split: str) -> Listing:
    """`<split>/{image,label}/<i>.npy`, i = 0..n-1 unpadded (numeric order, not string order)."""
    folder = root / split
    stems = sorted(int(p.stem) for p in (folder / "image").glob("*.npy") if p.stem.isdigit())
    if stems != list(range(len(stems))):
        raise TrainError(f"{folder / 'image'}: file names are not 0..{len(stems) - 1}.npy")

    def read(i: int, with_depth: bool) -> Record:
        paths = {role: root / npy_path(split, role, i) for role in ROLES}
        lab = load_npy(paths["label"])
        if lab.ndim == 3 and lab.shape[-1] == 1:
            lab = lab[..., 0]
        depth = None
        if with_depth and paths["depth"].is_file():
            depth = load_npy(paths["depth"])
            depth = depth[..., 0] if depth.ndim == 3 and depth.shape[-1] == 1 else depth
            if depth.dtype.kind != "f":
                raise TrainError(f"{paths['depth']}: depth dtype {depth.dtype}, want float")
        return Record(load_npy(paths["image"]), lab, depth, str(paths["image"]), str(paths["label"]), str(paths["depth"]))

    return Listing(tuple(f"{split}/{i}" for i in stems), np.arange(len(stems), dtype=np.int64), read)
