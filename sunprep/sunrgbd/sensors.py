"""SUN RGB-D's sensor folders and a scene's identity across machines: defined once, used everywhere."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# The top-level folders of SUNRGBD/ (kv1: NYUdata, b3dodata; kv2: kinect2data, align_kv2;
# realsense: lg, sa, sh, shr; xtion: sun3ddata, xtion_align_data).
SENSORS = ("kv1", "kv2", "realsense", "xtion")


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
