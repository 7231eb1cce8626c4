"""`evaluate --save-predictions DIR`: each image's prediction in the form the field's tools read.

`DIR/labelIds/<stem>.png` in the Cityscapes label space: train ids sent back to the release's
label ids through the official table, what cityscapesScripts' `evalPixelLevelSemanticLabeling`
compares with `*_gtFine_labelIds.png`; `DIR/labelTrainIds/<stem>.png` in any other label space
(class ids, 255 void); and `DIR/color/<stem>.png`, each class in its colour. `<stem>` is the
sample's Cityscapes stem `{city}_{seq}_{frame}` in the official layout (the script finds a
prediction by it), else `<split>_<index>`. The colour pictures get their own folder: the script
searches its results folder recursively for `{city}_{seq}_{frame}*.png` and stops at two matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sunprep.atomic import write_bytes_atomic
from sunprep.export.cityscapes_source import load_label_table
from sunprep.export.sample import png_bytes
from sunprep.labels.classes import ClassTable


@dataclass(frozen=True)
class PredictionWriter:
    """Writes a batch of predicted class maps; each file atomically, so a rank writes its own."""

    out: Path
    kind: str  # "labelIds" or "labelTrainIds": the folder and what the values mean
    values: np.ndarray  # uint8 (n,): class id -> stored value
    colours: np.ndarray  # uint8 (256, 3): class id -> colour

    def write(self, ids: tuple[str, ...] | list[str], preds: np.ndarray) -> None:
        """`preds` (B, H, W) class ids of the samples named `ids`."""
        for sample_id, pred in zip(ids, preds, strict=True):
            stem = sample_id.replace("/", "_")
            write_bytes_atomic(self.out / self.kind / f"{stem}.png", png_bytes(self.values[pred]))
            write_bytes_atomic(self.out / "color" / f"{stem}.png", png_bytes(self.colours[pred]))


def prediction_writer(out: Path, classes: ClassTable) -> PredictionWriter:
    """Cityscapes' 19 train classes are written as label ids; any other table as its class ids."""
    table = load_label_table()
    if classes == table.classes:
        return PredictionWriter(Path(out), "labelIds", table.label_ids, classes.palette())
    # Class tables stop below VOID_PNG (their loader refuses ids > 254): every id fits a uint8.
    return PredictionWriter(Path(out), "labelTrainIds", np.arange(len(classes), dtype=np.uint8), classes.palette())
