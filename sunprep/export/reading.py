"""What every format's reader gives back, and the checks every one of them applies.

Each format module (`cityscapes`, `official`, `shards`) lists a split as a `Listing`: sample ids
and a function that decodes sample k from the files that format's writer wrote. The checks on
what was decoded (label range, fractional labels, non-finite or out-of-range images and depth)
live here once, so a bad file gets the same one-line TrainError naming it whatever the format,
at the moment it is read rather than as a NaN loss many steps later.

A split is read into two compact in-memory arrays (images uint8 when they are 8-bit images,
even when stored as float; labels int16 with -1 void). A 128x256 split of 2,975 images is then
~290 MB + ~195 MB, and a batch is one fancy-index gather: no per-item file opening, no worker
processes competing with the model for the cores. See benchmarks/train.py for the figures.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sunprep.errors import TrainError
from sunprep.export.sample import DEPTH_PNG_SCALE
from sunprep.labels.classes import VOID, VOID_PNG, ClassTable

OnFile = Callable[[int, int], None]  # (done, total) while a split is read


@dataclass(frozen=True)
class Record:
    """One sample as read back; `*_where` name the files, for error messages."""

    image: np.ndarray  # (H, W, 3) uint8, or float in [0, 1]
    label: np.ndarray  # (H, W) integer class ids, -1 void (float only if the file is)
    depth: np.ndarray | None  # (H, W) float32 metres, 0 missing; None when absent or not asked for
    image_where: str
    label_where: str
    depth_where: str = ""


@dataclass(frozen=True)
class Listing:
    """One split of one export folder: `ids[k]` names sample k as its format does (`train/17`,
    a file stem); `index[k]` is its manifest index; `read(k, depth)` decodes it."""

    ids: tuple[str, ...]
    index: np.ndarray
    read: Callable[[int, bool], Record]


@dataclass(frozen=True)
class LabelSpace:
    """What labels are checked against: the class table and where it came from (for messages)."""

    classes: ClassTable
    source: str


@dataclass(frozen=True)
class Split:
    """One split in memory, in listing order."""

    images: np.ndarray  # (N, H, W, 3) uint8, or float32 in [0, 1] when not 8-bit exact
    labels: np.ndarray  # (N, H, W) int16, -1 void
    ids: tuple[str, ...]
    index: np.ndarray  # (N,) int64 sample index as in manifest.parquet
    depth: np.ndarray | None = None  # (N, H, W) float32 metres, only when asked for and present

    def __len__(self) -> int:
        return len(self.ids)


def decode_png(data: bytes | Path, where: str, what: str) -> Image.Image:
    """Open and fully decode a PNG (or any image PIL reads); one-line TrainError if it is corrupt."""
    try:
        im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        im.load()
        return im
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise TrainError(f"{where}: unreadable {what} ({err})".splitlines()[0]) from None


def rgb_png(data: bytes | Path, where: str) -> np.ndarray:
    return np.asarray(decode_png(data, where, "image").convert("RGB"))


def label_png(data: bytes | Path, where: str) -> np.ndarray:
    """uint8 label PNG -> int16 with 255 -> -1 (void)."""
    im = decode_png(data, where, "label PNG")
    if im.mode not in ("L", "P"):
        raise TrainError(f"{where}: label PNG mode {im.mode}, want 8-bit L")
    lab = np.asarray(im).astype(np.int16)
    lab[lab == VOID_PNG] = VOID
    return lab


def depth_png(data: bytes | Path, where: str) -> np.ndarray:
    """16-bit millimetre PNG -> float32 metres, 0 missing."""
    im = decode_png(data, where, "depth PNG")
    if im.mode not in ("I;16", "I;16B", "I"):
        raise TrainError(f"{where}: depth PNG mode {im.mode}, want 16-bit")
    return np.asarray(im).astype(np.float32) / np.float32(DEPTH_PNG_SCALE)


def check_record(rec: Record, space: LabelSpace) -> None:
    """Everything a sample must satisfy before training on it; raises TrainError naming the file."""
    img, lab = rec.image, rec.label
    if img.ndim != 3 or img.shape[-1] != 3 or lab.shape != img.shape[:2]:
        raise TrainError(f"{rec.image_where}: image {img.shape} and label {lab.shape} do not fit (want HxWx3 and HxW)")
    if img.dtype != np.uint8 and img.dtype.kind != "f":
        raise TrainError(f"{rec.image_where}: image dtype {img.dtype}, want uint8 or float in [0, 1]")
    if img.dtype.kind == "f":
        if not np.isfinite(img).all():
            raise TrainError(f"{rec.image_where}: non-finite image values (NaN or inf)")
        if img.size and (img.min() < 0 or img.max() > 1):
            raise TrainError(f"{rec.image_where}: float image values outside [0, 1]")
    if rec.depth is not None:
        if rec.depth.shape != lab.shape:
            raise TrainError(f"{rec.depth_where}: depth {rec.depth.shape} for a {lab.shape} label")
        if not np.isfinite(rec.depth).all():
            raise TrainError(f"{rec.depth_where}: non-finite depth values (NaN or inf)")
    check_labels(lab, rec.label_where, space)


def check_labels(lab: np.ndarray, where: str, space: LabelSpace) -> None:
    """Class ids must lie in 0..n-1 or be void: a silent out-of-range id would corrupt the loss."""
    if lab.dtype.kind not in "iuf":
        raise TrainError(f"{where}: label dtype {lab.dtype}, want integer class ids")
    if lab.size == 0:
        return
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all():
            raise TrainError(f"{where}: non-finite label values (NaN or inf)")
        if not np.array_equal(lab, np.rint(lab)):
            raise TrainError(f"{where}: fractional label values (interpolated labels?); class ids must be whole numbers")
    lo, hi = int(lab.min()), int(lab.max())
    n = len(space.classes)
    if lo < VOID or hi >= n:
        bad = lo if lo < VOID else hi
        raise TrainError(f"{where}: label value {bad} outside 0..{n - 1} and void {VOID} ({space.source})")


def assemble(root: Path, split: str, listing: Listing, space: LabelSpace, workers: int, on_file: OnFile, depth: bool = False) -> Split:
    """Read and check every sample with a thread pool (file reads and PNG decoding release the GIL)."""
    ids = listing.ids
    n = len(ids)
    if n == 0:
        raise TrainError(f"{root}: the {split!r} split holds no samples")
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    depths: np.ndarray | None = None

    def read(k: int) -> Record:
        rec = listing.read(k, depth)
        check_record(rec, space)
        return rec

    chunk = 16 * max(1, workers)  # bounded read-ahead: `map` over everything would buffer the whole split
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = (r for start in range(0, n, chunk) for r in pool.map(read, range(start, min(n, start + chunk))))
        for k, rec in enumerate(results):
            if images is None:
                images = np.empty((n, *rec.image.shape), np.uint8)
                labels = np.empty((n, *rec.label.shape), np.int16)
                if depth and rec.depth is not None:
                    depths = np.empty((n, *rec.depth.shape), np.float32)
            if rec.image.shape != images.shape[1:]:
                raise TrainError(f"{rec.image_where}: {rec.image.shape[:2]}, the split's first sample {images.shape[1:3]}")
            images = _store_image(images, k, rec.image)
            assert labels is not None  # allocated with images
            labels[k] = rec.label
            if depths is not None:
                if rec.depth is None:
                    raise TrainError(f"{rec.image_where}: no depth, though the split's first sample has one")
                depths[k] = rec.depth
            on_file(k + 1, n)
    assert images is not None and labels is not None
    return Split(images, labels, tuple(ids), np.asarray(listing.index, np.int64), depths)


def _store_image(images: np.ndarray, k: int, img: np.ndarray) -> np.ndarray:
    """Keep uint8 while every image is an 8-bit image (also when stored as float k/255), else float32.

    Float images in [0, 1] that are exact multiples of 1/255 (to 1e-6) lose nothing as uint8 and
    take a quarter of the memory; any other float image switches the whole split to float32.
    """
    if img.dtype == np.uint8:
        if images.dtype == np.uint8:
            images[k] = img
        else:
            images[k] = img.astype(np.float32) / 255
        return images
    img = img.astype(np.float32)
    if images.dtype == np.uint8:
        q = np.rint(img * 255)
        if np.abs(q / 255 - img).max(initial=0) <= 1e-6:
            images[k] = q.astype(np.uint8)
            return images
        images = images.astype(np.float32) / 255
    images[k] = img
    return images


def read_sample(listing: Listing, k: int, space: LabelSpace) -> Record:
    """One sample with its depth (when stored), checked: what `sunprep show` and the tests read."""
    rec = listing.read(k, True)
    check_record(rec, space)
    return rec

