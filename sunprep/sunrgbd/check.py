"""Checking a scene folder part by part, so one report can list every problem a scene has.

`read_scene` stops at the first broken part, which is right for a converter; `sunprep scan`
instead wants the full list, and reuses the same part readers to get it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sunprep.errors import skip_reason
from sunprep.sunrgbd.depth import NO_DEPTH, DepthChoice, read_depth_png
from sunprep.sunrgbd.discover import check_scene_dir, discover_scenes
from sunprep.sunrgbd.mat import Seg2D, open_seg2d
from sunprep.sunrgbd.scene import (
    depth_warnings,
    find_depth,
    find_image,
    labels_for,
    read_camera,
    read_rgb,
    read_scene_type,
    rel_posix,
)
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, scene_key, sensor_of

T = TypeVar("T")


@dataclass(frozen=True)
class SceneCheck:
    """What `scan` learns of one scene: its size, label source and type, and every problem found."""

    rel_path: str
    height: int | None  # None when the image could not be read
    width: int | None
    label_source: str  # "" when the labels could not be read
    n_names: int
    scene_type: str
    depth_source: str
    problems: tuple[str, ...]  # one line each, `f"{file}: {problem}"`
    warnings: tuple[str, ...]  # recovered from; not problems
    tracebacks: tuple[str, ...] = ()  # of the unexpected problems (a reader bug or unforeseen damage)
    unlabeled: bool = False  # labels read, but no pixel labelled: `export` leaves it out unless --keep-unlabeled
    sensor: str = ""  # sensor folder (kv1/NYUdata, ...); "" for a scene outside one

    @property
    def ok(self) -> bool:
        return not self.problems


def check_scene(
    scene_dir: Path,
    root: Path,
    *,
    depth: DepthChoice = "refined",
    seg2d: Seg2D | None = None,
) -> SceneCheck:
    """Run every part reader of `read_scene` on its own and collect what each raises.

    Parts that need the image size (depth, labels) are checked against it when the image
    decodes, and on their own terms otherwise. A part failing in a way nobody foresaw is a
    problem like any other (named with its exception type, its traceback kept), not the end
    of the scan.
    """
    scene_dir = Path(scene_dir)
    rel = rel_posix(scene_dir, root)
    problems: list[str] = []
    tracebacks: list[str] = []

    def attempt(part: Callable[[], T]) -> T | None:
        try:
            return part()
        except Exception as err:  # every part's failure is listed; the other parts are still checked
            reason, tb = skip_reason(err, scene_dir)
            problems.append(reason)
            if tb:
                tracebacks.append(tb)
            return None

    sensor = sensor_of(scene_key(scene_dir.resolve().as_posix()))
    attempt(lambda: check_scene_dir(scene_dir))
    if problems:  # no scene folder at all: its parts' problems would only repeat that
        return SceneCheck(rel, None, None, "", 0, "", "", tuple(problems), (), tuple(tracebacks), sensor=sensor)
    image = attempt(lambda: find_image(scene_dir))
    rgb = attempt(lambda: read_rgb(image)) if image is not None else None
    shape = rgb.shape[:2] if rgb is not None else None
    found = attempt(lambda: find_depth(scene_dir, image, depth)) if depth != NO_DEPTH else None
    if found is not None:
        metres = attempt(lambda: read_depth_png(found[0], shape))
        if shape is None and metres is not None:
            shape = metres.shape
    record = attempt(lambda: labels_for(scene_dir, rel, shape, seg2d)) if shape is not None else None
    attempt(lambda: read_camera(scene_dir))
    scene_type = attempt(lambda: read_scene_type(scene_dir)) or ""
    return SceneCheck(
        rel_path=rel,
        height=None if rgb is None else rgb.shape[0],
        width=None if rgb is None else rgb.shape[1],
        label_source=record.label_source if record else "",
        n_names=len(record.names) if record else 0,
        scene_type=scene_type,
        depth_source=found[1] if found else NO_DEPTH if depth == NO_DEPTH else "",
        problems=tuple(problems),
        warnings=(record.warnings if record else ()) + (depth_warnings(scene_dir, depth, found[1]) if found else ()),
        tracebacks=tuple(tracebacks),
        unlabeled=record is not None and not record.labels.any(),
        sensor=sensor,
    )


@dataclass(frozen=True)
class ScanSummary:
    """Counts over a scanned tree, for the table footer and `--json`."""

    scenes: int
    with_problems: int
    unlabeled: int
    label_sources: dict[str, int]
    sizes: dict[str, int]  # "WxH" -> scenes
    scene_types: dict[str, int]
    sensors: dict[str, int]  # sensor folder -> scenes ("?" outside one)


def _count(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def summarise(checks: list[SceneCheck]) -> ScanSummary:
    return ScanSummary(
        scenes=len(checks),
        with_problems=sum(not c.ok for c in checks),
        unlabeled=sum(c.unlabeled for c in checks),
        label_sources=_count([c.label_source or "?" for c in checks]),
        sizes=_count([f"{c.width}x{c.height}" if c.width else "?" for c in checks]),
        scene_types=_count([c.scene_type or "?" for c in checks]),
        sensors=_count([c.sensor or "?" for c in checks]),
    )


@dataclass(frozen=True)
class ScanConfig:
    root: Path
    depth: DepthChoice = "refined"  # which depth PNG to check; "none": depth is not checked
    sensors: tuple[str, ...] = DEFAULT_SENSOR_FOLDERS  # sensor folders read from a SUNRGBD/ root
    seg2d: Path | None = None  # toolbox SUNRGBD2Dseg.mat, a label source after seg.mat
    seg2d_order: Path | None = None  # scene order of that file; default: SUNRGBDMeta.mat beside it


def run_scan(
    cfg: ScanConfig, on_start: Callable[[int], None] | None = None, on_step: Callable[[int, int], None] | None = None
) -> list[SceneCheck]:
    """Check every scene under cfg.root; a broken scene is listed, never fatal.

    Raises BadInput when there are no scenes or --seg2d cannot be read, both before
    `on_start(total)` (a progress bar starts there, so such a failure prints its one line alone).
    `on_step(done, total)` is called after each scene.
    """
    scenes = discover_scenes(cfg.root, cfg.sensors)
    opened = open_seg2d(cfg.seg2d, cfg.seg2d_order) if cfg.seg2d else None
    checks: list[SceneCheck] = []
    try:
        if on_start is not None:
            on_start(len(scenes))
        for scene_dir in scenes:
            checks.append(check_scene(scene_dir, cfg.root, depth=cfg.depth, seg2d=opened))
            if on_step is not None:
                on_step(len(checks), len(scenes))
    finally:
        if opened is not None:
            opened.close()
    return checks
