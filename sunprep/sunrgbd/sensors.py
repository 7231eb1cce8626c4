"""SUN RGB-D's sensor folders and a scene's identity across machines: defined once, used everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from sunprep.errors import BadInput

# The top-level folders of SUNRGBD/, and below them the ten folders of the 10,335 images
# (allsplit.mat lists scenes of every one; sun3ddata nests its scenes <building>/<sequence>/<frame>/).
SENSORS = ("kv1", "kv2", "realsense", "xtion")
SENSOR_FOLDERS = (
    "kv1/NYUdata",
    "kv1/b3dodata",
    "kv2/kinect2data",
    "kv2/align_kv2",
    "realsense/lg",
    "realsense/sa",
    "realsense/sh",
    "realsense/shr",
    "xtion/sun3ddata",
    "xtion/xtion_align_data",
)
DEFAULT_SENSOR_FOLDERS = ("kv2/kinect2data",)  # the Kinect v2 scenes sunprep started with
ALL_SENSORS = "all"


def parse_sensor_folders(values: Iterable[str]) -> tuple[str, ...]:
    """`--sensors` values (repeated, comma lists, or `all`) as sensor folders in SENSOR_FOLDERS order.

    Raises BadInput naming the value that is not a sensor folder, with the choices.
    """
    chosen: set[str] = set()
    for value in values:
        for item in (v.strip().strip("/") for v in value.split(",")):
            if not item:
                continue  # `a,,b` or a trailing comma
            if item == ALL_SENSORS:
                chosen.update(SENSOR_FOLDERS)
            elif item in SENSOR_FOLDERS:
                chosen.add(item)
            else:
                raise BadInput(f"--sensors {item!r}: not a sensor folder; choose from {', '.join(SENSOR_FOLDERS)} or {ALL_SENSORS}")
    if not chosen:
        raise BadInput(f"--sensors: give at least one of {', '.join(SENSOR_FOLDERS)} or {ALL_SENSORS}")
    return tuple(f for f in SENSOR_FOLDERS if f in chosen)


def sensor_of(key: str) -> str:
    """The sensor folder of a scene key (`kv1/NYUdata/NYU0001` -> `kv1/NYUdata`); "" outside them."""
    folder = "/".join(key.split("/")[:2])
    return folder if folder in SENSOR_FOLDERS else ""


def scene_key(path: str) -> str:
    """A scene's identity as the toolbox spells it: from the sensor folder on, no trailing `/`.

    `/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000002_..-resize/` (allsplit.mat),
    `SUNRGBD/kv2/kinect2data/000002_..-resize/image/0000103.jpg` and a folder found on this
    machine all give `kv2/kinect2data/000002_..-resize`, whatever the absolute prefix, slashes or
    backslashes. Without a sensor folder: the part after `SUNRGBD/`, else the folder's own name.
    """
    parts = [p for p in PurePosixPath(path.strip().replace("\\", "/")).parts if p not in ("/", "")]
    if "image" in parts[1:]:
        parts = parts[: len(parts) - 1 - parts[::-1].index("image")]
    for i, part in enumerate(parts):
        if part in SENSORS:
            return "/".join(parts[i:])
    if "SUNRGBD" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("SUNRGBD"):])
    return parts[-1] if parts else ""


def city_token(folders: str) -> str:
    """`kv2/align_kv2` -> `kv2-align-kv2`: a scene's folders as a Cityscapes city, one token with
    neither `/` nor `_` (cityscapesScripts' `getCsFileInfo` splits file names on `_`)."""
    return re.sub(r"[/_]+", "-", folders)


def frame_number(scene_name: str) -> int:
    """`000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize` -> 103 (kinect2data names
    carry the colour frame's number); 0 for names without one (kv1, align_kv2, realsense, xtion)."""
    found = re.search(r"rgbf(\d+)", scene_name)
    return int(found.group(1)) if found else 0
