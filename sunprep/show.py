"""One sample for `sunprep show`: from an export of any format (its own reader, as `train` reads
it) or from a raw SUN RGB-D scene folder (the scene reader, labels resolved as `export` would).

A sample of an export is picked by its position in a split (`--index`, 0..N-1 as the format
lists it) or by its scene's name in `manifest.parquet` (`--scene`, the full relative path or its
last folder name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from sunprep.errors import BadInput
from sunprep.export.reading import Listing, read_sample
from sunprep.labels.classes import ClassTable
from sunprep.labels.labelmap import load_label_map
from sunprep.sunrgbd.scene import read_scene
from sunprep.train.data import Dataset, manifest_values, open_dataset


@dataclass(frozen=True)
class Shown:
    """What the picture shows, and a name for its file."""

    image: np.ndarray  # (H, W, 3) uint8 or float in [0, 1]
    label: np.ndarray  # (H, W) class ids, negative void
    depth: np.ndarray | None  # (H, W) metres, 0 missing; None when not stored
    classes: ClassTable
    title: str
    name: str  # file stem: no slashes


def is_scene_folder(path: Path) -> bool:
    """A raw SUN RGB-D scene holds `image/` (and depth, labels); no export layout does."""
    return (Path(path) / "image").is_dir()


def pick(data: Path, index: int | None = None, scene: str | None = None, split: str | None = None) -> Shown:
    """The sample `index` (default 0) of `split` (default val, else the first), or the one of `scene`."""
    data = Path(data)
    if is_scene_folder(data):
        if index is not None or scene is not None or split is not None:
            raise BadInput(f"{data}: a scene folder is one sample; --index, --scene and --split pick within an export")
        return raw_scene(data)
    if index is not None and scene is not None:
        raise BadInput(f"{data}: --index and --scene both given; pick the sample by one of them")
    ds = open_dataset(data)
    if scene is not None:
        split, k = find_scene(ds, scene, split)
    else:
        split = split or ("val" if "val" in ds.splits else ds.splits[0])
        k = 0 if index is None else index
    listing = ds.listing(split)
    if not 0 <= k < len(listing.ids):
        raise BadInput(f"{data}: --index {k} outside 0..{len(listing.ids) - 1}, the {split!r} split's samples")
    rec = read_sample(listing, k, ds.space)
    names = manifest_values(ds, listing, split, "scene")
    name = names[k] if names and names[k] else listing.ids[k]
    title = f"{name}  ({split} sample {k} of {len(listing.ids)}, {ds.layout} export {data})"
    return Shown(rec.image, rec.label, rec.depth, ds.classes, title, listing.ids[k].replace("/", "_"))


def find_scene(ds: Dataset, scene: str, split: str | None) -> tuple[str, int]:
    """(split, position) of the first sample whose manifest scene is `scene` (or ends in it)."""
    for name in [split] if split else ds.splits:
        listing: Listing = ds.listing(name)
        scenes = manifest_values(ds, listing, name, "scene")
        if scenes is None:
            raise BadInput(f"{ds.root / 'manifest.parquet'}: absent, so no sample can be found by scene name; use --index")
        for k, s in enumerate(scenes):
            if scene in (s, PurePosixPath(s).name):
                return name, k
    where = f"the {split!r} split" if split else f"splits {', '.join(ds.splits)}"
    raise BadInput(f"{ds.root / 'manifest.parquet'}: no scene {scene!r} in {where}")


def raw_scene(scene_dir: Path) -> Shown:
    """A scene folder read whole; raw names resolved onto the class table by the project's rules."""
    s = read_scene(scene_dir, scene_dir.parent)
    label_map = load_label_map()
    label = label_map.lut(s.names)[s.labels]
    kind = s.scene_type or "no scene type"
    title = f"{s.rel_path}  ({kind}; labels: {s.label_source}, depth: {s.depth_source}; SUN RGB-D scene)"
    return Shown(s.rgb, label, s.depth, label_map.classes, title, s.rel_path.replace("/", "_"))
