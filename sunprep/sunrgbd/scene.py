"""The typed record one SUN RGB-D scene folder reads into, and the reader that fills it.

Reading stops here: the raw label map and raw names are kept exactly as stored, and
normalisation onto classes happens later (sunprep.labels), so a report can always say what the
dataset itself held.

`read_scene(scene_dir, root)` reads everything; `read_labels(scene_dir, root)` only the labels
(for passes that count names). Both raise BadInput with one line `"{file}: {problem}"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from sunprep.errors import BadInput, first_line
from sunprep.inputs import IMAGE_ERRORS, regular_file
from sunprep.labels.classes import seg37_classes
from sunprep.sunrgbd.annotation import read_index_json
from sunprep.sunrgbd.depth import DEPTH_CHOICES, NO_DEPTH, DepthChoice, read_depth_png
from sunprep.sunrgbd.discover import ANNOTATION_DIRS, check_scene_dir
from sunprep.sunrgbd.mat import OFFICIAL_SOURCE, Seg2D, read_seg_mat
from sunprep.sunrgbd.records import LabelRecord

__all__ = ["LabelRecord", "Scene", "read_labels", "read_scene"]


@dataclass(frozen=True)
class Scene:
    """One scene, e.g. `kv2/kinect2data/000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize`.

    `labels[y, x] == k` (k >= 1) means the pixel shows `names[k - 1]`; 0 is unlabeled.
    """

    rel_path: str  # POSIX path relative to the dataset root given by the user
    rgb: np.ndarray  # uint8 (H, W, 3)
    depth: np.ndarray | None  # float32 (H, W) metres, 0 = missing, capped at 8 m (toolbox rule); None: depth "none"
    labels: np.ndarray  # uint16 (H, W), 0 = unlabeled
    names: tuple[str, ...]  # raw object names exactly as stored
    scene_type: str  # scene.txt, e.g. "bedroom"; "" when the file is absent
    intrinsics: np.ndarray  # float64 (3, 3)
    label_source: str  # "seg.mat", "SUNRGBD2Dseg.mat", "annotation2Dfinal/index.json", ..., or "none"
    depth_source: str  # "depth_bfx", "depth", or "none"
    extrinsics: np.ndarray | None = None  # float64 (3, 4), latest extrinsics/<timestamp>.txt
    warnings: tuple[str, ...] = field(default=())  # problems recovered from, one line each


# --- reading a scene folder -------------------------------------------------------------------
# Each part has its own reader so that `check_scene` (sunprep scan) can report every broken part
# of a scene, while `read_scene` stops at the first.

JPEG_SUFFIXES = (".jpg", ".jpeg")


def rel_posix(scene_dir: Path, root: Path) -> str:
    """The scene folder relative to the user's root, POSIX; its own name when it lies elsewhere."""
    try:
        rel = Path(scene_dir).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        rel = "."
    return Path(scene_dir).resolve().name if rel == "." else rel


def find_image(scene_dir: Path) -> Path:
    """`image/<name>.jpg`: exactly one, since a second one would make the pairing with depth a guess."""
    folder = scene_dir / "image"
    found = sorted(p for p in folder.glob("*") if p.suffix.lower() in JPEG_SUFFIXES) if folder.is_dir() else []
    if not found:
        raise BadInput(f"{folder}: no JPEG image")
    if len(found) > 1:
        raise BadInput(f"{folder}: {len(found)} JPEG images ({', '.join(p.name for p in found[:3])}), expected one")
    return found[0]


def image_shape(path: Path) -> tuple[int, int]:
    """(H, W) from the JPEG header alone: label-only reads need the size, not the pixels."""
    try:
        with Image.open(regular_file(path)) as im:
            return im.height, im.width
    except IMAGE_ERRORS as err:
        raise BadInput(f"{path}: not a readable JPEG ({first_line(err)})") from None


def read_rgb(path: Path) -> np.ndarray:
    """Decode the JPEG fully (a truncated file fails here, not later) to uint8 (H, W, 3)."""
    try:
        with Image.open(regular_file(path)) as im:
            im.load()
            return np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
    except IMAGE_ERRORS as err:
        raise BadInput(f"{path}: not a readable JPEG ({first_line(err)})") from None


def find_depth(scene_dir: Path, image: Path | None, depth: Literal["refined", "raw"]) -> tuple[Path, str]:
    """(png, "depth_bfx" | "depth"): refined `depth_bfx/` where present unless raw is asked for.

    The PNG is the folder's only one, or the one named like the image (kv1 adds `_abs`);
    without an image (`scan` of a broken scene) only a folder's sole PNG is taken.
    """
    folders = ["depth_bfx", "depth"] if depth == "refined" else ["depth"]
    for name in folders:
        folder = scene_dir / name
        pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
        if len(pngs) > 1 and image is not None:
            pngs = [p for p in pngs if p.stem in (image.stem, f"{image.stem}_abs")] or pngs
        if len(pngs) == 1:
            return pngs[0], name
        if len(pngs) > 1:
            raise BadInput(f"{folder}: {len(pngs)} PNGs and none named like the image")
    raise BadInput(f"{scene_dir / folders[-1]}: no depth PNG")


def depth_warnings(scene_dir: Path, depth: DepthChoice, source: str) -> tuple[str, ...]:
    """The fallback from refined to raw depth, said: the sample's depth then has the sensor's
    holes and noise, which a user asking for the refined maps would not expect silently."""
    if depth == "refined" and source == "depth":
        return (f"{scene_dir / 'depth_bfx'}: missing, raw depth/ used instead of the refined depth",)
    return ()


def _read_matrix(path: Path, rows: int, cols: int) -> np.ndarray:
    try:
        values = np.array(regular_file(path).read_text(encoding="utf-8").split(), dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BadInput(f"{path}: not a whitespace-separated matrix ({err})") from None
    if values.size != rows * cols:
        raise BadInput(f"{path}: {values.size} numbers, expected a {rows}x{cols} matrix")
    return values.reshape(rows, cols)


def read_camera(scene_dir: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Intrinsics (3, 3) and the latest `extrinsics/<timestamp>.txt` (3, 4), None when there is none.

    Timestamps are `YYYYMMDDhhmmss`, so the latest is the last by name.
    """
    intrinsics = _read_matrix(scene_dir / "intrinsics.txt", 3, 3)
    folder = scene_dir / "extrinsics"
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    return intrinsics, (_read_matrix(files[-1], 3, 4) if files else None)


def read_scene_type(scene_dir: Path) -> str:
    """`scene.txt` stripped (e.g. "bedroom"); "" when absent."""
    path = scene_dir / "scene.txt"
    try:
        return regular_file(path).read_text(encoding="utf-8", errors="replace").strip() if path.exists() else ""
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None


def labels_for(scene_dir: Path, rel_path: str, shape: tuple[int, int], seg2d: Seg2D | None) -> LabelRecord:
    """Labels by preference: `seg.mat`, then the toolbox `SUNRGBD2Dseg.mat`, then index.json.

    Only the exact name `index.json` is read: annotators left `index.json~` and `index.json.bak`
    beside it. A scene with none of these gets an all-zero map and label_source "none".
    """
    seg = scene_dir / "seg.mat"
    if seg.exists():  # not is_file(): a FIFO or folder here is reported, not passed over
        return read_seg_mat(seg, shape)
    if seg2d is not None:
        record = seg2d.lookup(rel_path, shape)
        if record is not None:
            return record
    for name in ANNOTATION_DIRS:
        index = scene_dir / name / "index.json"
        if index.exists():
            return read_index_json(index, shape, f"{name}/index.json")
    return LabelRecord(np.zeros(shape, np.uint16), (), "none", ())


def official_labels(rel_path: str, shape: tuple[int, int], seg2d: Seg2D | None) -> LabelRecord:
    """The toolbox's official 37-class map as a record: value k names seg37 class k, 0 unlabeled.

    A scene the file does not map is an error here (its skip reason), not a fallback to other
    annotations: an export of the official labels holds those labels or nothing.
    """
    if seg2d is None:
        raise BadInput(f"{rel_path}: official labels come from the toolbox's SUNRGBD2Dseg.mat; none given")
    labels = seg2d.official(rel_path, shape)
    if labels is None:
        raise BadInput(f"{seg2d.path}: no seglabel entry for {rel_path}")
    return LabelRecord(labels.astype(np.uint16), seg37_classes().names, OFFICIAL_SOURCE, ())


def read_labels(scene_dir: Path, root: Path, *, seg2d: Seg2D | None = None) -> LabelRecord:
    """The scene's labels alone (the JPEG header gives the size; no pixels are decoded)."""
    scene_dir = Path(scene_dir)
    check_scene_dir(scene_dir)
    shape = image_shape(find_image(scene_dir))
    return labels_for(scene_dir, rel_posix(scene_dir, root), shape, seg2d)


def read_scene(
    scene_dir: Path,
    root: Path,
    *,
    depth: DepthChoice = "refined",
    seg2d: Seg2D | None = None,
    official: bool = False,
) -> Scene:
    """Read one scene folder; raises BadInput (`"{file}: {problem}"`) at its first broken part.

    `official` takes the labels from the toolbox's 37-class `seglabel` instead of the raw names.
    With depth "none" no depth PNG is looked for: a scene without one reads.
    """
    if depth not in DEPTH_CHOICES:
        raise ValueError(f"depth={depth!r}: expected one of {DEPTH_CHOICES}")
    scene_dir = Path(scene_dir)
    check_scene_dir(scene_dir)
    rel = rel_posix(scene_dir, root)
    image = find_image(scene_dir)
    rgb = read_rgb(image)
    shape = rgb.shape[:2]
    metres, depth_source = None, NO_DEPTH
    if depth != NO_DEPTH:
        depth_png, depth_source = find_depth(scene_dir, image, depth)
        metres = read_depth_png(depth_png, shape)
    record = official_labels(rel, shape, seg2d) if official else labels_for(scene_dir, rel, shape, seg2d)
    intrinsics, extrinsics = read_camera(scene_dir)
    return Scene(
        rel_path=rel,
        rgb=rgb,
        depth=metres,
        labels=record.labels,
        names=record.names,
        scene_type=read_scene_type(scene_dir),
        intrinsics=intrinsics,
        label_source=record.label_source,
        depth_source=depth_source,
        extrinsics=extrinsics,
        warnings=record.warnings + depth_warnings(scene_dir, depth, depth_source),
    )
