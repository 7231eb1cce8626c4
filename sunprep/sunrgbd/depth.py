"""SUN RGB-D depth PNGs: 16-bit, bit-rotated millimetres, decoded with the toolbox's own formula."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np
from PIL import Image

from sunprep.errors import BadInput, first_line
from sunprep.inputs import IMAGE_ERRORS, regular_file

MAX_DEPTH_M = 8.0  # the toolbox (read3dPoints.m) sets everything beyond 8 m to 8 m
# Which depth a scene gives: refined `depth_bfx/` (else `depth/`), raw `depth/`, or none at all
# (most Cityscapes users download only leftImg8bit and gtFine; `--depth none` reads no depth).
DepthChoice = Literal["refined", "raw", "none"]
DEPTH_CHOICES: tuple[DepthChoice, ...] = get_args(DepthChoice)
NO_DEPTH: Final = "none"  # also the depth_source a sample without depth records


def decode_depth(raw: np.ndarray) -> np.ndarray:
    """Metres from a stored depth PNG array, as `read3dPoints.m` does it.

    The files hold millimetres rotated left by 3 bits; the toolbox undoes that with
    `bitor(bitshift(d, -3), bitshift(d, 16 - 3))` on uint16 (the left shift drops the high bits),
    divides by 1000 and caps at 8 m. 0 stays 0, which means "no measurement".
    """
    d = np.asarray(raw).astype(np.uint16, copy=False)
    mm = (d >> 3) | (d << 13)  # uint16 arithmetic drops the shifted-out bits, as MATLAB's does
    metres = mm.astype(np.float32) / np.float32(1000)
    return np.minimum(metres, np.float32(MAX_DEPTH_M))


def encode_depth(metres: np.ndarray) -> np.ndarray:
    """The inverse of `decode_depth` for values below the cap: what a SUN RGB-D depth PNG stores.

    Fixtures use it to write files in the real format.
    """
    mm = np.rint(np.asarray(metres, np.float64) * 1000).astype(np.uint32) & 0xFFFF
    return (((mm << 3) | (mm >> 13)) & 0xFFFF).astype(np.uint16)


def read_depth_png(path: Path, shape: tuple[int, int] | None) -> np.ndarray:
    """Decode one depth PNG to float32 metres; `shape` (H, W) is the image's, checked when given.

    An 8-bit PNG is refused rather than scaled: it is a preview or a conversion gone wrong, and
    its values would decode to nonsense distances.
    """
    try:
        with Image.open(regular_file(path)) as im:
            im.load()
            mode = im.mode
            raw = np.asarray(im)
    except IMAGE_ERRORS as err:
        raise BadInput(f"{path}: not a readable PNG ({first_line(err)})") from None
    if mode not in ("I;16", "I;16B", "I;16L", "I") or raw.ndim != 2:
        raise BadInput(f"{path}: depth PNG is mode {mode}, expected 16-bit single channel")
    if mode == "I" and (raw.min(initial=0) < 0 or raw.max(initial=0) > 0xFFFF):
        raise BadInput(f"{path}: depth PNG values outside 16 bits")
    if shape is not None and raw.shape != tuple(shape):
        raise BadInput(
            f"{path}: depth is {raw.shape[1]}x{raw.shape[0]}, image is {shape[1]}x{shape[0]}"
        )
    return decode_depth(raw)
