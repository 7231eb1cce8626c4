"""What one exported sample is, and how its arrays become file bytes.

Encoding happens in the worker processes (it is most of the per-sample CPU after decoding);
the parent only places files or bytes, so outputs are the same bytes whatever `--workers` is.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from sunprep.labels.classes import VOID, VOID_PNG

PNG_LEVEL = 1  # zlib level: 6 takes several times longer for files a few % smaller at 128x256
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEPTH_PNG_SCALE = 1000.0  # metres -> millimetres in 16-bit depth PNGs, as SUN RGB-D stores them
MAX_DEPTH_PNG_M = 0xFFFF / DEPTH_PNG_SCALE  # 65.535 m: the farthest a 16-bit millimetre PNG holds


@dataclass(frozen=True)
class Sample:
    """One resized, normalised sample: what every format writes, each in its own encoding."""

    image: np.ndarray  # uint8 (H, W, 3)
    label: np.ndarray  # int16 (H, W): class id, VOID (-1) for void
    depth: np.ndarray | None  # float32 (H, W): metres, 0 = missing; None under `--depth none`
    # The source release's own maps by official-layout role ("labelIds", "instanceIds", "color"),
    # resized like the labels: the official layout carries them so the release's tools read it.
    release: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Meta:
    """Where a sample came from; goes into the manifest and names files."""

    scene: str  # the scene's path relative to --root, e.g. kv2/kinect2data/000002_..._rgbf000103-resize
    group: str  # the official layout's city: the sensor folders (`kv2-kinect2data`, no `_`) or the Cityscapes city
    name: str  # the scene folder name, or the Cityscapes stem `{city}_{seq}_{frame}`
    scene_type: str
    label_source: str
    depth_source: str
    input_sha256: str
    warnings: tuple[str, ...] = ()
    # SUN RGB-D: its frame number (`rgbf000103`, else 0); the official layout names the sample
    # `{group}_{index:06d}_{frame:06d}`. None: `name` is already a Cityscapes stem.
    frame: int | None = None
    sensor: str = ""  # the SUN RGB-D sensor folder (kv1/NYUdata, ...); "" for Cityscapes or scenes outside one


@dataclass(frozen=True)
class Encoded:
    """A sample's file contents by role ("image", "label", "depth") plus their joint checksum.

    Formats whose workers write their own files send `staged` instead of `files`: by role, the
    temporary file holding those bytes, for the parent to rename.
    """

    meta: Meta
    files: dict[str, bytes]
    output_sha256: str
    height: int
    width: int
    staged: dict[str, str] = field(default_factory=dict)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(arr: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """PNG of a uint8 (H, W) / (H, W, 3) / (H, W, 4) or uint16 (H, W) array, written directly.

    Every row gets the PNG "Sub" filter (one numpy subtraction) and zlib runs with its
    run-length strategy. PIL's encoder picks a filter per row and takes twice as long at
    128x256 for files of about the same size; the bytes here depend only on zlib.
    """
    h, w = arr.shape[:2]
    if arr.dtype == np.uint16 and arr.ndim == 2:
        rows, bpp, bit_depth, colour_type = arr.astype(">u2").view(np.uint8).reshape(h, 2 * w), 2, 16, 0
    elif arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] in (3, 4):
        bpp = arr.shape[2]  # RGB (colour type 2) or RGBA (6), as the release's `*_gtFine_color.png`
        rows, bit_depth, colour_type = arr.reshape(h, bpp * w), 8, 2 if bpp == 3 else 6
    elif arr.dtype == np.uint8 and arr.ndim == 2:
        rows, bpp, bit_depth, colour_type = arr, 1, 8, 0
    else:
        raise ValueError(f"no PNG encoding for {arr.dtype} {arr.shape}")
    filtered = np.empty((h, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 1  # filter type Sub: each byte minus the byte one pixel to the left
    filtered[:, 1 : 1 + bpp] = rows[:, :bpp]
    np.subtract(rows[:, bpp:], rows[:, :-bpp], out=filtered[:, 1 + bpp :])  # wraps mod 256, as PNG wants
    z = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = z.compress(filtered.tobytes()) + z.flush()
    header = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def npy_bytes(arr: np.ndarray) -> bytes:
    """The `.npy` file of an array (what `np.save` writes)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def label_png_array(label: np.ndarray) -> np.ndarray:
    """Class ids as uint8, void as 255 (Cityscapes `*_labelTrainIds.png`)."""
    return np.where(label == VOID, VOID_PNG, label).astype(np.uint8)


def depth_mm_array(depth: np.ndarray) -> np.ndarray:
    """Metres as uint16 millimetres, 0 = missing. Readers keep depth within MAX_DEPTH_PNG_M (SUN
    RGB-D caps at 8 m, Cityscapes drops what lies beyond), so the clip only guards the dtype."""
    return np.clip(np.rint(depth * DEPTH_PNG_SCALE), 0, 65535).astype(np.uint16)


def png_files(sample: Sample) -> dict[str, bytes]:
    """The PNGs of a sample, as the official layout and the Parquet shards store them."""
    files = {"image": png_bytes(sample.image), "label": png_bytes(label_png_array(sample.label))}
    if sample.depth is not None:
        files["depth"] = png_bytes(depth_mm_array(sample.depth))
    return files


def checksum(files: dict[str, bytes]) -> str:
    """sha256 over the roles and bytes in role order."""
    h = hashlib.sha256()
    for role in sorted(files):
        h.update(role.encode())
        h.update(len(files[role]).to_bytes(8, "big"))
        h.update(files[role])
    return h.hexdigest()
