"""The two datasets an export reads, as lists of jobs (main process) and their loading (workers).

A job is small and picklable; loading it gives full-size arrays plus the lookup that turns its
raw label map into class ids. Both domains pad with raw label 0 ("unlabeled"), which both
lookups send to void.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from sunprep.export.cityscapes_source import CityscapesFrame, frame_files, load_label_table, read_frame
from sunprep.export.sample import Meta
from sunprep.export.splits import Split
from sunprep.labels.classes import seg37_lut
from sunprep.labels.labelmap import LabelMap
from sunprep.sunrgbd.depth import NO_DEPTH, DepthChoice
from sunprep.sunrgbd.mat import Seg2D, open_seg2d
from sunprep.sunrgbd.scene import read_scene, rel_posix
from sunprep.sunrgbd.sensors import city_token, frame_number, scene_key, sensor_of

__all__ = ["CityscapesJob", "DepthChoice", "Loaded", "SunrgbdJob"]


@dataclass(frozen=True)
class Loaded:
    """A scene at full size: `lut[labels]` are its class ids (void -1)."""

    rgb: np.ndarray
    depth: np.ndarray | None  # None under `--depth none`
    labels: np.ndarray
    lut: np.ndarray
    meta: Meta
    release: dict[str, np.ndarray] = field(default_factory=dict)  # a Cityscapes frame's own gtFine maps


def files_sha256(paths: list[Path]) -> str:
    """sha256 over the names and bytes of a scene's input files (already in the page cache)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class SunrgbdJob:
    """One SUN RGB-D scene folder and the split it goes to."""

    split: Split
    scene_dir: Path
    root: Path
    official: bool = False  # labels from the toolbox's official 37-class seglabel, not resolved names

    @property
    def scene(self) -> str:
        return rel_posix(self.scene_dir, self.root)

    def load(self, label_map: LabelMap | None, depth: DepthChoice, seg2d: Seg2D | None = None) -> Loaded:
        scene = read_scene(self.scene_dir, self.root, depth=depth, seg2d=seg2d, official=self.official)
        key = scene_key(self.scene_dir.resolve().as_posix())
        group = city_token(key.rsplit("/", 1)[0] if "/" in key else self.scene_dir.parent.name)
        inputs = sorted((self.scene_dir / "image").glob("*.jp*g"))
        if scene.depth_source != NO_DEPTH:
            inputs += sorted((self.scene_dir / scene.depth_source).glob("*.png"))
        if (self.scene_dir / scene.label_source).is_file():
            inputs.append(self.scene_dir / scene.label_source)
        meta = Meta(
            scene=scene.rel_path,
            group=group,
            name=self.scene_dir.name,
            scene_type=scene.scene_type,
            label_source=scene.label_source,
            depth_source=scene.depth_source,
            input_sha256=files_sha256(inputs),
            warnings=scene.warnings,
            frame=frame_number(self.scene_dir.name),
            sensor=sensor_of(key),
        )
        if self.official:
            lut = seg37_lut()
        else:
            assert label_map is not None, "a SUN RGB-D export of raw names has a label map"
            lut = label_map.lut(scene.names)
        return Loaded(scene.rgb, scene.depth, scene.labels, lut, meta)


# The toolbox SUNRGBD2Dseg.mat open in this process: (pid, path, order, handle). An h5py handle
# must not cross fork (HDF5's state is per process), so each process opens its own on first use,
# and a handle inherited from a parent that forked is never used.
_SEG2D: tuple[int, Path, Path | None, Seg2D] | None = None


def seg2d_handle(path: Path, order: Path | None) -> Seg2D:
    """The toolbox file opened once per process (by path), for every scene that process loads."""
    global _SEG2D
    pid = os.getpid()
    if _SEG2D is not None and _SEG2D[:3] == (pid, path, order):
        return _SEG2D[3]
    close_seg2d()
    handle = open_seg2d(path, order)
    _SEG2D = (pid, path, order, handle)
    return handle


def close_seg2d() -> None:
    """Close this process's handle; one inherited across fork is the parent's, and only forgotten here."""
    global _SEG2D
    if _SEG2D is not None and _SEG2D[0] == os.getpid():
        _SEG2D[3].close()
    _SEG2D = None


@dataclass(frozen=True)
class CityscapesJob:
    """One frame of the official Cityscapes release; its split is the release's own."""

    frame: CityscapesFrame

    @property
    def split(self) -> str:
        return self.frame.split

    @property
    def scene(self) -> str:
        return self.frame.rel

    def load(self, label_map: LabelMap | None, depth: DepthChoice, seg2d: Seg2D | None = None) -> Loaded:
        with_depth = depth != NO_DEPTH
        data = read_frame(self.frame, with_depth)
        meta = Meta(
            scene=self.frame.rel,
            group=self.frame.city,
            name=self.frame.stem,
            scene_type="street",
            label_source="gtFine/labelIds",
            depth_source="disparity" if with_depth else NO_DEPTH,
            input_sha256=files_sha256(list(frame_files(self.frame, with_depth))),
            warnings=data.warnings,
        )
        return Loaded(data.rgb, data.depth, data.label_ids, cityscapes_lut(), meta, data.maps)


@lru_cache(maxsize=1)
def cityscapes_lut() -> np.ndarray:
    """The labelId -> train id lookup, read once per process."""
    return load_label_table().lut
