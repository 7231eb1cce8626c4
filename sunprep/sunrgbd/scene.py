"""The typed record one SUN RGB-D scene folder reads into.

Reading stops here: the raw label map and raw names are kept exactly as stored, and
normalisation onto classes happens later (sunprep.labels), so a report can always say what the
dataset itself held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Scene:
    """One scene, e.g. `kv2/kinect2data/000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize`.

    `labels[y, x] == k` (k >= 1) means the pixel shows `names[k - 1]`; 0 is unlabeled.
    """

    rel_path: str  # POSIX path relative to the dataset root given by the user
    rgb: np.ndarray  # uint8 (H, W, 3)
    depth: np.ndarray  # float32 (H, W) metres, 0 = missing, capped at 8 m (toolbox rule)
    labels: np.ndarray  # uint16 (H, W), 0 = unlabeled
    names: tuple[str, ...]  # raw object names exactly as stored
    scene_type: str  # scene.txt, e.g. "bedroom"; "" when the file is absent
    intrinsics: np.ndarray  # float64 (3, 3)
    label_source: str  # "seg.mat", "SUNRGBD2Dseg.mat", "annotation2Dfinal/index.json", ..., or "none"
    depth_source: str  # "depth_bfx" or "depth"
    extrinsics: np.ndarray | None = None  # float64 (3, 4), latest extrinsics/<timestamp>.txt
    warnings: tuple[str, ...] = field(default=())  # problems recovered from, one line each
