"""Readers of the three export layouts (and the public 128x256 Cityscapes `.npy` release).

Every split is read once into two compact in-memory arrays (images uint8 when they are 8-bit
images stored as float, labels int16 with -1 void). A 128x256 split of 2,975 images is then
~290 MB + ~195 MB, and a batch is one fancy-index gather: no per-item file opening, no worker
processes competing with the model for the 2 cores. See benchmarks/train.py for the figures.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sunprep.errors import TrainError
from sunprep.export.cityscapes_source import load_label_table
from sunprep.labels.classes import VOID, VOID_PNG, ClassTable, load_classes

LAYOUTS = ("cityscapes", "parquet", "cityscapes-official")
OnFile = Callable[[int, int], None]  # (done, total) while a split is read


@dataclass(frozen=True)
class Split:
    """One split in memory; `ids[i]` names sample i as the layout does (`train/17`, a file stem)."""

    images: np.ndarray  # (N, H, W, 3) uint8, or float32 in [0, 1] when not 8-bit exact
    labels: np.ndarray  # (N, H, W) int16, -1 void
    ids: tuple[str, ...]
    index: np.ndarray  # (N,) int64 sample index as in manifest.parquet

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Dataset:
    """A data folder: its layout, label space and a fingerprint of its file listing."""

    root: Path
    layout: str
    classes: ClassTable
    classes_source: str  # the classes.csv read, or a note that the Cityscapes 19 were assumed
    splits: tuple[str, ...]  # the splits present, sorted
    fingerprint: str  # sha256 of layout, class table and every file's relative path and size

    def load(self, split: str, workers: int = 2, on_file: OnFile | None = None) -> Split:
        """Read one split; label values outside 0..n-1 (other than void) raise TrainError."""
        if split not in self.splits:
            raise TrainError(f"{self.root}: no {split!r} split (found {', '.join(self.splits) or 'none'})")
        reader = {"cityscapes": _read_npy, "parquet": _read_parquet, "cityscapes-official": _read_official}
        return reader[self.layout](self, split, workers, on_file or (lambda done, total: None))


def cityscapes_classes() -> ClassTable:
    """The 19 Cityscapes train ids (official table in mappings/): the label space of the public
    `.npy` release, which has no classes.csv. The export writes the same table, so both match."""
    return load_label_table().classes


def open_dataset(root: Path) -> Dataset:
    """Detect the layout of `root` and read its class table; one-line TrainError when neither fits."""
    root = Path(root)
    if not root.is_dir():
        raise TrainError(f"{root}: not a folder")
    layout, files = detect_layout(root)
    table_path = root / "classes.csv"
    if table_path.is_file():
        classes, source = load_classes(table_path), str(table_path)
    else:
        classes, source = cityscapes_classes(), f"{table_path} absent: the 19 Cityscapes train ids assumed"
    h = hashlib.sha256(f"{layout}\n{classes.to_csv()}".encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()}\t{f.stat().st_size}\n".encode())
    splits = tuple(sorted({f.relative_to(root).parts[1 if layout == "cityscapes-official" else 0] for f in files}))
    return Dataset(root, layout, classes, source, splits, h.hexdigest())


def detect_layout(root: Path) -> tuple[str, list[Path]]:
    """The layout and its data files, sorted; checks only structure, not contents."""
    npy = sorted(root.glob("*/image/*.npy"))
    if npy:
        return "cityscapes", npy + sorted(root.glob("*/label/*.npy"))
    parts = sorted(root.glob("*/part-*.parquet"))
    if parts:
        return "parquet", parts
    pngs = sorted(root.glob("leftImg8bit/*/*/*_leftImg8bit.png"))
    if pngs:
        return "cityscapes-official", pngs + sorted(root.glob("gtFine/*/*/*_gtFine_labelTrainIds.png"))
    raise TrainError(
        f"{root}: not a known layout (expected <split>/image/<i>.npy, <split>/part-*.parquet "
        "or leftImg8bit/<split>/<group>/*_leftImg8bit.png)"
    )


def _read_npy(ds: Dataset, split: str, workers: int, on_file: OnFile) -> Split:
    """`<split>/{image,label}/<i>.npy`, i = 0..n-1 unpadded (numeric order, not string order)."""
    folder = ds.root / split
    stems = sorted(int(p.stem) for p in (folder / "image").glob("*.npy") if p.stem.isdigit())
    if stems != list(range(len(stems))):
        raise TrainError(f"{folder / 'image'}: file names are not 0..{len(stems) - 1}.npy")

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        img_path, lab_path = folder / "image" / f"{i}.npy", folder / "label" / f"{i}.npy"
        if not lab_path.is_file():
            raise TrainError(f"{lab_path}: missing (its image exists)")
        img, lab = np.load(img_path), np.load(lab_path)
        if lab.ndim == 3 and lab.shape[-1] == 1:
            lab = lab[..., 0]
        if img.ndim != 3 or img.shape[-1] != 3 or lab.shape != img.shape[:2]:
            raise TrainError(f"{img_path}: image {img.shape} and label {lab.shape} do not fit (want HxWx3 and HxW)")
        _check_labels(lab, lab_path, ds)
        return img, lab

    return _assemble(ds, split, [f"{split}/{i}" for i in stems], np.arange(len(stems)), read, workers, on_file)


def _read_parquet(ds: Dataset, split: str, workers: int, on_file: OnFile) -> Split:
    """`<split>/part-*.parquet`: one row per sample, PNG-encoded image and label (255 void)."""
    import pyarrow.parquet as pq

    rows: list[tuple[int, bytes, bytes, str]] = []
    for part in sorted((ds.root / split).glob("part-*.parquet")):
        try:
            t = pq.read_table(part, columns=["index", "image", "label"]).to_pydict()
        except (KeyError, ValueError, OSError) as err:
            raise TrainError(f"{part}: not an export shard ({err})".splitlines()[0]) from None
        rows += [(i, im, la, str(part)) for i, im, la in zip(t["index"], t["image"], t["label"])]
    rows.sort(key=lambda r: r[0])

    def read(k: int) -> tuple[np.ndarray, np.ndarray]:
        index, img_png, lab_png, source = rows[k]
        where = f"{source}[index={index}]"
        return _decode_rgb(img_png, where), _png_labels(Image.open(io.BytesIO(lab_png)), where, ds)

    ids = [f"{split}/{r[0]}" for r in rows]
    return _assemble(ds, split, ids, np.array([r[0] for r in rows], np.int64), read, workers, on_file)


def _read_official(ds: Dataset, split: str, workers: int, on_file: OnFile) -> Split:
    """`leftImg8bit/<split>/<group>/<name>_leftImg8bit.png` with `gtFine/.../<name>_gtFine_labelTrainIds.png`."""
    images = sorted((ds.root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"), key=lambda p: (p.name, p.parent.name))

    def read(k: int) -> tuple[np.ndarray, np.ndarray]:
        img_path = images[k]
        name = img_path.name[: -len("_leftImg8bit.png")]
        lab_path = ds.root / "gtFine" / split / img_path.parent.name / f"{name}_gtFine_labelTrainIds.png"
        if not lab_path.is_file():
            raise TrainError(f"{lab_path}: missing (its image exists)")
        return _decode_rgb(img_path.read_bytes(), str(img_path)), _png_labels(Image.open(lab_path), str(lab_path), ds)

    ids = [p.name[: -len("_leftImg8bit.png")] for p in images]
    return _assemble(ds, split, ids, np.arange(len(images)), read, workers, on_file)


def _decode_rgb(png: bytes, where: str) -> np.ndarray:
    try:
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    except OSError as err:
        raise TrainError(f"{where}: unreadable image ({err})") from None


def _png_labels(im: Image.Image, where: str, ds: Dataset) -> np.ndarray:
    """uint8 label PNG -> int16 with 255 -> -1 (void)."""
    if im.mode not in ("L", "P"):
        raise TrainError(f"{where}: label PNG mode {im.mode}, want 8-bit L")
    lab = np.asarray(im).astype(np.int16)
    lab[lab == VOID_PNG] = VOID
    _check_labels(lab, where, ds)
    return lab


def _check_labels(lab: np.ndarray, where: object, ds: Dataset) -> None:
    """Class ids must lie in 0..n-1 or be void: a silent out-of-range id would corrupt the loss."""
    if lab.size == 0:
        return
    if lab.dtype.kind == "f" and not np.array_equal(lab, np.rint(lab)):
        raise TrainError(f"{where}: fractional label values (interpolated labels?); class ids must be whole numbers")
    lo, hi = int(lab.min()), int(lab.max())
    n = len(ds.classes)
    if lo < VOID or hi >= n:
        bad = lo if lo < VOID else hi
        raise TrainError(f"{where}: label value {bad} outside 0..{n - 1} and void {VOID} ({ds.classes_source})")


def _assemble(
    ds: Dataset,
    split: str,
    ids: Sequence[str],
    index: np.ndarray,
    read: Callable[[int], tuple[np.ndarray, np.ndarray]],
    workers: int,
    on_file: OnFile,
) -> Split:
    """Read every sample with a thread pool (file reads and PNG decoding release the GIL)."""
    n = len(ids)
    if n == 0:
        raise TrainError(f"{ds.root}: the {split!r} split holds no samples")
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    chunk = 16 * max(1, workers)  # bounded read-ahead: `map` over everything would buffer the whole split
    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = (r for start in range(0, n, chunk) for r in pool.map(read, range(start, min(n, start + chunk))))
        for k, (img, lab) in enumerate(results):
            if images is None:
                images = np.empty((n, *img.shape), np.uint8)
                labels = np.empty((n, *lab.shape), np.int16)
            if img.shape != images.shape[1:]:
                raise TrainError(f"{ds.root}: {ids[k]} is {img.shape[:2]}, the split's first sample {images.shape[1:3]}")
            images = _store_image(images, k, img, f"{ds.root}: {ids[k]}")
            assert labels is not None  # allocated with images
            labels[k] = lab
            on_file(k + 1, n)
    assert images is not None and labels is not None
    return Split(images, labels, tuple(ids), np.asarray(index, np.int64))


def _store_image(images: np.ndarray, k: int, img: np.ndarray, where: str) -> np.ndarray:
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
    if img.size and (img.min() < 0 or img.max() > 1):
        raise TrainError(f"{where}: float image values outside [0, 1]")
    if images.dtype == np.uint8:
        q = np.rint(img * 255)
        if np.abs(q / 255 - img).max(initial=0) <= 1e-6:
            images[k] = q.astype(np.uint8)
            return images
        as_float = images.astype(np.float32) / 255
        images = as_float
    images[k] = img
    return images


def scene_types(ds: Dataset, split: Split, split_name: str) -> list[str] | None:
    """Each sample's SUN RGB-D scene type from `manifest.parquet` at the export root, or None
    without a manifest. Samples match on (split, index); the official layout has no index in its
    file names, so there a sample matches the manifest row whose `files` hold its image."""
    path = ds.root / "manifest.parquet"
    if not path.is_file():
        return None
    import pyarrow.parquet as pq

    cols = ["split", "index", "scene_type"] + (["files"] if ds.layout == "cityscapes-official" else [])
    try:
        t = pq.read_table(path, columns=cols).to_pydict()
    except (KeyError, ValueError, OSError) as err:
        raise TrainError(f"{path}: want columns {', '.join(cols)} ({err})".splitlines()[0]) from None
    if ds.layout == "cityscapes-official":
        by_name = {Path(f).name: st for fs, st in zip(t["files"], t["scene_type"]) for f in fs}
        return [by_name.get(f"{i}_leftImg8bit.png", "") for i in split.ids]
    by_index = {(s, int(i)): str(st) for s, i, st in zip(t["split"], t["index"], t["scene_type"])}
    return [by_index.get((split_name, int(i)), "") for i in split.index]
