"""`--format cityscapes-official`: the file layout of the Cityscapes release itself.

`leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png` (8-bit RGB),
`gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png` (8-bit, 255 void) and
`depth/{split}/{city}/{stem}_depth.png` (16-bit millimetres, 0 missing; absent under
`--depth none`): what mmsegmentation's and torchvision's Cityscapes datasets find by those
suffixes. From a Cityscapes source the release's own `_gtFine_labelIds.png` (and
`_gtFine_instanceIds.png`, `_gtFine_color.png` when it has them) are carried too, resized
nearest-neighbour: what cityscapesScripts' `evalPixelLevelSemanticLabeling` reads.

Every stem fits Cityscapes' `{city}_{seq}_{frame}` (what `csHelpers.getCsFileInfo` parses): a
Cityscapes frame keeps its own; a SUN RGB-D scene becomes `{sensor}_{index}_{frame}` (its
sensor folders as the city, its index in the split as the sequence, its frame number), its own
name staying in the manifest's `scene`.

Every Cityscapes file name in sunprep is built and parsed here (`cs_path`, `parse_cs_path`), as
cityscapesScripts' `csHelpers` does for its tools: the release reader, this writer and this
reader all call them, so a suffix is spelled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from sunprep.errors import TrainError
from sunprep.export.formats import FilePerRole
from sunprep.export.reading import Listing, Record, depth_png, label_png, rgb_png
from sunprep.export.sample import Meta, Sample, png_bytes, png_files

NAME = "cityscapes-official"

# File kind -> (top folder, suffix after `{city}_{seq}_{frame}`), cityscapesScripts' names.
# "label" is the train-id map every trainer reads; "labelIds"/"instanceIds"/"color" are the
# release's own maps (what its evaluation scripts read).
FILES: dict[str, tuple[str, str]] = {
    "image": ("leftImg8bit", "_leftImg8bit.png"),
    "label": ("gtFine", "_gtFine_labelTrainIds.png"),
    "labelIds": ("gtFine", "_gtFine_labelIds.png"),
    "instanceIds": ("gtFine", "_gtFine_instanceIds.png"),
    "color": ("gtFine", "_gtFine_color.png"),
    "depth": ("depth", "_depth.png"),
    "disparity": ("disparity", "_disparity.png"),
    "camera": ("camera", "_camera.json"),
}
# The release's own gtFine maps, carried from a Cityscapes source (labelIds always).
RELEASE_MAPS = ("labelIds", "instanceIds", "color")


@dataclass(frozen=True)
class CsName:
    """Where a Cityscapes-named file lives: `{kind folder}/{split}/{city}/{stem}{suffix}`."""

    split: str
    city: str
    stem: str  # {city}_{seq}_{frame}

    def path(self, kind: str) -> str:
        """This frame's file of `kind`, relative to the dataset root."""
        folder, suffix = FILES[kind]
        return f"{folder}/{self.split}/{self.city}/{self.stem}{suffix}"


def sunrgbd_stem(group: str, index: int, frame: int) -> str:
    """`kv2-kinect2data`, sample 17, frame 103 -> `kv2-kinect2data_000017_000103`.

    `group` holds no underscore (`sunrgbd.sensors.city_token`: `getCsFileInfo` splits on them);
    the index makes the stem unique in its split.
    """
    return f"{group}_{index:06d}_{frame:06d}"


def parse_cs_path(rel: str | Path) -> tuple[CsName, str]:
    """`gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png` -> (its CsName, "labelIds")."""
    parts = Path(rel).parts
    if len(parts) >= 4:
        folder, split, city, name = parts[-4:]
        for kind, (top, suffix) in FILES.items():
            if top == folder and name.endswith(suffix):
                return CsName(split, city, name[: -len(suffix)]), kind
    raise ValueError(f"{rel}: not a Cityscapes file name ({{folder}}/{{split}}/{{city}}/{{stem}}_{{type}}.png)")


@dataclass(frozen=True)
class OfficialWriter(FilePerRole):
    out: Path
    name: ClassVar[str] = NAME

    def encode(self, sample: Sample) -> dict[str, bytes]:
        return png_files(sample) | {role: png_bytes(sample.release[role]) for role in RELEASE_MAPS if role in sample.release}

    def paths(self, split: str, index: int, meta: Meta) -> dict[str, str]:
        stem = meta.name if meta.frame is None else sunrgbd_stem(meta.group, index, meta.frame)
        name = CsName(split, meta.group, stem)
        return {role: name.path(role) for role in FILES}


def detect(root: Path) -> list[Path]:
    """The layout's image and label files under `root`, sorted; empty when it holds none."""
    image_dir, image_suffix = FILES["image"]
    images = sorted(root.glob(f"{image_dir}/*/*/*{image_suffix}"))
    label_dir, label_suffix = FILES["label"]
    return images + sorted(root.glob(f"{label_dir}/*/*/*{label_suffix}")) if images else []


def split_of(rel: Path) -> str:
    return rel.parts[1]


def listing(root: Path, split: str) -> Listing:
    """Every `leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png` with its labelTrainIds PNG,
    sorted by file name (export writes names in index order), then city."""
    folder, suffix = FILES["image"]
    found = sorted((root / folder / split).glob(f"*/*{suffix}"), key=lambda p: (p.name, p.parent.name))
    names = [CsName(split, p.parent.name, p.name[: -len(suffix)]) for p in found]

    def read(k: int, with_depth: bool) -> Record:
        paths = {kind: root / names[k].path(kind) for kind in ("image", "label", "depth")}
        if not paths["label"].is_file():
            raise TrainError(f"{paths['label']}: missing (its image exists)")
        depth = depth_png(paths["depth"], str(paths["depth"])) if with_depth and paths["depth"].is_file() else None
        image = rgb_png(paths["image"], str(paths["image"]))
        label = label_png(paths["label"], str(paths["label"]))
        return Record(image, label, depth, str(paths["image"]), str(paths["label"]), str(paths["depth"]))

    return Listing(tuple(n.stem for n in names), np.arange(len(names), dtype=np.int64), read)
