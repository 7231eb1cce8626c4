"""`--format cityscapes-official`: the file layout of the Cityscapes release itself.

`leftImg8bit/{split}/{group}/{name}_leftImg8bit.png` (8-bit RGB),
`gtFine/{split}/{group}/{name}_gtFine_labelTrainIds.png` (8-bit, 255 void) and
`depth/{split}/{group}/{name}_depth.png` (16-bit millimetres, 0 missing): what mmsegmentation's
and torchvision's Cityscapes datasets find by those suffixes. `group` plays the city's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sunprep.export.formats import FilePerRole
from sunprep.export.sample import Meta, Sample, depth_mm_array, label_png_array, png_bytes


def png_files(sample: Sample) -> dict[str, bytes]:
    """The three PNGs of a sample, shared with the Parquet shards."""
    return {
        "image": png_bytes(sample.image),
        "label": png_bytes(label_png_array(sample.label)),
        "depth": png_bytes(depth_mm_array(sample.depth)),
    }


@dataclass(frozen=True)
class OfficialWriter(FilePerRole):
    out: Path
    name: ClassVar[str] = "cityscapes-official"

    def encode(self, sample: Sample) -> dict[str, bytes]:
        return png_files(sample)

    def paths(self, split: str, index: int, meta: Meta) -> dict[str, str]:
        g, n = meta.group, meta.name
        return {
            "image": f"leftImg8bit/{split}/{g}/{n}_leftImg8bit.png",
            "label": f"gtFine/{split}/{g}/{n}_gtFine_labelTrainIds.png",
            "depth": f"depth/{split}/{g}/{n}_depth.png",
        }
