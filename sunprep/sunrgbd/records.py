"""The label part of a scene on its own, so label-only passes (counting names) skip JPEG decoding."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LabelRecord:
    """A raw label map and the names it indexes: `labels[y, x] == k` (k >= 1) is `names[k - 1]`, 0 unlabeled.

    `label_source` names where it came from ("seg.mat", "SUNRGBD2Dseg.mat",
    "annotation2Dfinal/index.json", ..., or "none"), so reports can say which annotation won.
    """

    labels: np.ndarray  # uint16 (H, W)
    names: tuple[str, ...]  # raw names exactly as stored
    label_source: str
    warnings: tuple[str, ...] = field(default=())  # problems recovered from, one line each
