"""Finding scene folders by their layout, whatever level of the SUN RGB-D tree the user points at."""

from __future__ import annotations

import os
from pathlib import Path

from sunprep.errors import BadInput
from sunprep.sunrgbd.sensors import SENSORS

KINECT2 = Path("kv2") / "kinect2data"  # the Kinect v2 scenes this project is about


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


def discover_scenes(root: Path) -> list[Path]:
    """Scene folders under `root`, sorted by their POSIX path below it.

    `root` may be the dataset's `SUNRGBD/` folder or its parent (then only `kv2/kinect2data`
    is taken: the other sensors differ in resolution and annotation), `kv2/kinect2data/`
    itself, or any folder of scene folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    top = root
    dataset = _sunrgbd_root(root)
    if dataset is not None:
        top = dataset / KINECT2
        if not top.is_dir():
            raise BadInput(f"{dataset}: no {KINECT2.as_posix()} folder (only Kinect v2 scenes are read)")
    scenes = sorted(_walk(top), key=lambda p: p.relative_to(root).as_posix())
    if not scenes:
        raise BadInput(f"{root}: no scene folders (a scene folder holds image/<name>.jpg)")
    return scenes
