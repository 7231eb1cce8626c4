"""Finding scene folders by their layout, whatever level of the SUN RGB-D tree the user points at."""

from __future__ import annotations

import os
from pathlib import Path

from sunprep.errors import BadInput
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS, SENSORS

ANNOTATION_DIRS = ("annotation2Dfinal", "annotation2D3D", "annotation")  # preference order
# Subfolders only a scene folder has: one holding these but no image/ is a broken scene, listed
# once as such, not walked into (its depth/ would be listed as a second folder without a scene).
SCENE_PARTS = frozenset({"depth", "depth_bfx", "extrinsics", *ANNOTATION_DIRS})


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


def check_scene_dir(path: Path) -> None:
    """A folder listed as a scene must be one: BadInput naming what it is instead.

    `discover_scenes` also lists the folders where a scene was expected but none can be read
    (unreadable, empty, holding no scene), so that scan reports them and export skips them with
    a reason instead of both passing them over without a word.
    """
    try:
        entries = os.listdir(path)
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if not is_scene_dir(path):
        what = "an empty folder" if not entries else "holds no scene (no image/ folder or intrinsics.txt)"
        raise BadInput(f"{path}: {what} where a scene folder was expected")


def _walk(top: Path, expect_scenes: bool) -> list[Path]:
    """Scene folders under `top` (itself included); scene folders are not descended into.

    Symlinked folders are followed (a tree of links to scenes is a common way to pick a subset),
    each real folder once: a link back up the tree, or a second link to one scene, is not walked
    again. Also listed, for `check_scene_dir` to name: folders that cannot be read (they may hold
    scenes), and with `expect_scenes` (inside a sensor folder) a folder that holds neither a
    scene nor subfolders, or holds a scene's parts (SCENE_PARTS) without its image.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def unreadable(err: OSError) -> None:
        if err.filename is not None:
            found.append(Path(err.filename))

    for dirpath, dirnames, _ in os.walk(top, onerror=unreadable, followlinks=True):
        here = Path(dirpath)
        st = os.stat(here)
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        if is_scene_dir(here) or (expect_scenes and here != top and (not dirnames or SCENE_PARTS & set(dirnames))):
            found.append(here)
            dirnames[:] = []
        else:
            dirnames.sort()
    return found


def _is_sensor_folder(path: Path) -> bool:
    return any(path.resolve().as_posix().endswith(f"/{folder}") for folder in SENSOR_FOLDERS)


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
    `<building>/<sequence>/<frame>/`. Symlinked folders are followed; folders that are no scene
    where one was expected are listed too (see `_walk`), for the readers to name.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    dataset = _sunrgbd_root(root)
    tops = [root] if dataset is None else _sensor_tops(dataset, sensors)
    expect_scenes = dataset is not None or _is_sensor_folder(root)
    scenes = sorted((s for top in tops for s in _walk(top, expect_scenes)), key=lambda p: p.relative_to(root).as_posix())
    if not scenes:
        raise BadInput(f"{root}: no scene folders (a scene folder holds image/<name>.jpg)")
    return scenes
