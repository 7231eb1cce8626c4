"""Opening an input file only once it is known to be a regular file.

Opening a FIFO blocks until some writer appears (forever, in a dataset folder), and a device
file may never end; `Path.is_file()` answers False for both, so a reader that globbed or was
given the path would otherwise hang the whole batch. Every reader stats its file first.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

from PIL import Image

from sunprep.errors import BadInput, SunprepError

# What PIL raises on damaged images varies with the damage: OSError for most, SyntaxError for a
# broken PNG chunk, ValueError, struct.error or zlib.error for inconsistent headers, EOFError for
# a short file, and DecompressionBombError for a header declaring billions of pixels.
IMAGE_ERRORS = (
    OSError, SyntaxError, ValueError, TypeError, IndexError, EOFError, MemoryError, struct.error, zlib.error,
    Image.DecompressionBombError,
)  # fmt: skip

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def regular_file(path: Path, error: type[SunprepError] = BadInput) -> Path:
    """`path` when it is (or links to) a regular file; else `error` naming what it is instead."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise error(f"{path}: cannot read ({err.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise error(f"{path}: {kind}, not a regular file")
    return Path(path)

