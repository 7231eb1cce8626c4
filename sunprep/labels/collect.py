"""Collecting raw names with their counts: from a dataset's label maps, or from a plain list.

A scene that cannot be read is listed with its one-line problem and skipped: one broken
annotation must not hide the names of thousands of good scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sunprep.errors import MappingError, skip_reason
from sunprep.labels.agreement import AgreementCounter
from sunprep.sunrgbd.discover import discover_scenes
from sunprep.sunrgbd.mat import Seg2D
from sunprep.sunrgbd.records import LabelRecord
from sunprep.sunrgbd.scene import read_labels, rel_posix
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS

EXAMPLES = 3  # example scenes kept per name, for `sunprep report --examples`


@dataclass
class NameCount:
    """How often one raw name occurs: images holding it, pixels painted with it, first scenes."""

    images: int = 0
    pixels: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Collected:
    names: dict[str, NameCount]  # raw name exactly as stored -> counts
    scenes: int = 0
    skipped: list[str] = field(default_factory=list)  # "file: problem", one per unreadable scene
    tracebacks: list[str] = field(default_factory=list)  # of the unexpected failures among them
    warnings: list[str] = field(default_factory=list)  # what the readers recovered from, one line each


def collect_dataset(
    root: Path,
    on_step: Callable[[int, int], None] | None = None,
    seg2d: Seg2D | None = None,
    agreement: AgreementCounter | None = None,
    sensors: tuple[str, ...] = DEFAULT_SENSOR_FOLDERS,
) -> Collected:
    """Every raw name under `root` with image and pixel counts (labels only: no JPEG decode).

    `seg2d`, the open toolbox file, is read for scenes without a seg.mat, as `read_labels` does.
    With `agreement`, each scene's raw labels are also counted against its official 37-class
    map from `seg2d`, in the same pass. `sensors`: the sensor folders read from a SUNRGBD/ root.
    """
    scenes = discover_scenes(root, sensors)
    out = Collected({})
    for i, scene_dir in enumerate(scenes, start=1):
        try:
            record = read_labels(scene_dir, root, seg2d=seg2d)
        except Exception as err:  # whatever one scene raises is its skip reason, not the end of the batch
            reason, tb = skip_reason(err, scene_dir)
            out.skipped.append(reason)
            if tb:
                out.tracebacks.append(tb)
        else:
            out.scenes += 1
            out.warnings.extend(record.warnings)
            rel = scene_dir.relative_to(root).as_posix() if scene_dir.is_relative_to(root) else str(scene_dir)
            add_label_map(out.names, record.labels, record.names, rel)
            if agreement is not None and seg2d is not None:
                count_agreement(agreement, seg2d, record, rel_posix(scene_dir, root))
        if on_step is not None:
            on_step(i, len(scenes))
    return out


def count_agreement(agreement: AgreementCounter, seg2d: Seg2D, record: LabelRecord, rel: str) -> None:
    """Count one scene's raw labels against its official map, or say why it cannot be."""
    if record.label_source == "none":
        agreement.exclude(rel, "no raw labels (no seg.mat, SUNRGBD2Dseg.mat entry or index.json)")
        return
    try:
        official = seg2d.official(rel, record.labels.shape)
    except Exception as err:  # a damaged official map excludes the scene from the comparison, no more
        agreement.exclude(rel, skip_reason(err, f"{seg2d.path}: {rel}")[0])
        return
    if official is None:
        agreement.exclude(rel, f"{seg2d.path}: no seglabel entry")
        return
    agreement.add(record.labels, record.names, official)


def add_label_map(names: dict[str, NameCount], labels: np.ndarray, raw: tuple[str, ...], scene: str) -> None:
    """Count one label map: one bincount, then per name (a name listed twice counts its pixels once each)."""
    pixels = np.bincount(labels.ravel(), minlength=len(raw) + 1)[1 : len(raw) + 1]
    seen: set[str] = set()
    for name, n in zip(raw, pixels.tolist()):
        count = names.setdefault(name, NameCount())
        count.pixels += int(n)
        if name not in seen:
            seen.add(name)
            count.images += 1
            if len(count.examples) < EXAMPLES:
                count.examples.append(scene)


def read_name_list(path: Path) -> Collected:
    """A UTF-8 list of raw names, one per line; a blank line inside the list is an error.

    A blank name would silently become `other`; the user meant something, so we say where.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MappingError(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise MappingError(f"{path}: not UTF-8 (bad byte at offset {err.start}); save it as UTF-8") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise MappingError(f"{path}: empty file")
    while lines and not lines[-1].strip():
        lines.pop()
    out = Collected({})
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            raise MappingError(f"{path}:{number}: empty or whitespace-only raw name")
        out.names.setdefault(name, NameCount()).images += 1
    return out
