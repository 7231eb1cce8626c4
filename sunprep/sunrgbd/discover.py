"""Finding scene folders by their layout, whatever level of the SUN RGB-D tree the user points at."""

from __future__ import annotations

import os
from pathlib import Path

from sunprep.errors import BadInput
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS, SENSORS


def is_scene_dir(path: Path) -> bool:
    """A scene folder holds `image/` (or, when the image went missing, `intrinsics.txt`).

    Counting folders that lost their image lets `scan` report them instead of skipping them.
    """
    return (path / "image").is_dir() or (path / "intrinsics.txt").is_file()


def _sunrgbd_root(root: Path) -> Path | None:
    """`root` itself or `root/SUNRGBD` when it looks like the dataset's top folder."""
    for cand in (root / "SUNRGBD", root):
        if cand.is_dir() and any((cand / s).is_dir() for s in SENSORS):
            return cand
    return None


def _walk(top: Path) -> list[Path]:
    """Scene folders under `top` (itself included); scene folders are not descended into."""
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(top):
        here = Path(dirpath)
        if is_scene_dir(here):
            found.append(here)
            dirnames[:] = []
        else:
            dirnames.sort()
    return found


def _sensor_tops(dataset: Path, sensors: tuple[str, ...]) -> list[Path]:
    """The chosen sensor folders under SUNRGBD/; a chosen one that is absent is an error, except
    under `all`, which takes those present (a partial fetch holds only some)."""
    present = [dataset / f for f in sensors if (dataset / f).is_dir()]
    missing = [f for f in sensors if not (dataset / f).is_dir()]
    if missing and (sensors != SENSOR_FOLDERS or not present):
        raise BadInput(f"{dataset}: no {', '.join(missing)} folder (--sensors chooses which sensor folders are read)")
    return present


def discover_scenes(root: Path, sensors: tuple[str, ...] = DEFAULT_SENSOR_FOLDERS) -> list[Path]:
    """Scene folders under `root`, sorted by their POSIX path below it.

    `root` may be the dataset's `SUNRGBD/` folder or its parent (then only the `sensors`
    folders are taken, by default `kv2/kinect2data`: the sensors differ in resolution and
    annotation, so mixing them is a choice), one sensor folder such as `kv2/kinect2data/`
    itself, or any folder of scene folders (then `sensors` does not apply: all are taken).
    A scene folder is found at any depth: `xtion/sun3ddata` nests them
    `<building>/<sequence>/<frame>/`.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    dataset = _sunrgbd_root(root)
    tops = [root] if dataset is None else _sensor_tops(dataset, sensors)
    scenes = sorted((s for top in tops for s in _walk(top)), key=lambda p: p.relative_to(root).as_posix())
    if not scenes:
        raise BadInput(f"{root}: no scene folders (a scene folder holds image/<name>.jpg)")
    return scenes
