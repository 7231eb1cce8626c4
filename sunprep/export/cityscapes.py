"""`--format cityscapes`: the layout of the popular 128x256 Cityscapes `.npy` release.

`OUT/{train,val}/{image,label,depth}/<i>.npy`, i = 0..n-1 unpadded per split, so loaders written
for that release (MTAN and its descendants count `image/*.npy` and open `{i}.npy`) read SUN RGB-D
unchanged. image float32 (H, W, 3) in [0, 1]; label int64 (H, W), void -1 (their
`ignore_index=-1`); depth float32 (H, W, 1), metres or, with `inverse`, 1/metres as that release
stores it; 0 = missing either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from sunprep.export.formats import FilePerRole
from sunprep.export.sample import Meta, Sample, npy_bytes

DepthEncoding = Literal["metres", "inverse"]
DEPTH_ENCODINGS: tuple[DepthEncoding, ...] = ("metres", "inverse")


def depth_channel(depth: np.ndarray, encoding: DepthEncoding) -> np.ndarray:
    """(H, W, 1) float32 metres, or 1/metres where valid; missing stays 0."""
    if encoding == "inverse":
        depth = np.divide(1.0, depth, out=np.zeros_like(depth), where=depth > 0)
    return depth.astype(np.float32)[..., None]


@dataclass(frozen=True)
class NpyWriter(FilePerRole):
    out: Path
    depth_encoding: DepthEncoding = "metres"
    name: ClassVar[str] = "cityscapes"

    def encode(self, sample: Sample) -> dict[str, bytes]:
        return {
            "image": npy_bytes(sample.image.astype(np.float32) / np.float32(255.0)),
            "label": npy_bytes(sample.label.astype(np.int64)),
            "depth": npy_bytes(depth_channel(sample.depth, self.depth_encoding)),
        }

    def paths(self, split: str, index: int, meta: Meta) -> dict[str, str]:
        return {role: f"{split}/{role}/{index}.npy" for role in ("image", "label", "depth")}
