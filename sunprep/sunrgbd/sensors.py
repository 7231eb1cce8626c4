"""SUN RGB-D's sensor folders and a scene's identity across machines: defined once, used everywhere."""

from __future__ import annotations

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
