"""Where fetched files land: `DEST/<member name>`, each complete or absent.

Partial files are written in one staging folder, `DEST/.sunprep-fetch/`, and renamed into place
(same file system, so `os.replace` is atomic) once verified. Unlike temporaries beside their
targets (`sunprep.atomic`), files a killed run leaves behind can never sit in a scene's `image/`
folder where a reader's `*.jpg` glob would pick them up, and the next run empties one folder.
Present files are trusted only after their size and CRC-32 match the archive's record.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sunprep.atomic import atomic_file
from sunprep.fetch.directory import safe_name

STAGING = ".sunprep-fetch"
HASH_CHUNK = 1 << 20


def file_crc(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


class Clash(Exception):
    """A member's place in the destination is taken (a file where its folder goes, or the reverse)."""


class Store:
    """The destination folder of one fetch. One fetch at a time per destination."""

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest)
        self.staging = self.dest / STAGING
        shutil.rmtree(self.staging, ignore_errors=True)  # leftovers of a killed run
        self.staging.mkdir(parents=True)
        self._made: set[Path] = set()  # folders known to exist: a mkdir per file costs as much as the write

    def path(self, name: str) -> Path:
        return self.dest / safe_name(name)

    def has(self, name: str, file_size: int, crc: int) -> bool:
        """True when `name` is present with exactly this size and CRC-32: a verified earlier fetch."""
        path = self.path(name)
        try:
            if not path.is_file() or path.stat().st_size != file_size:
                return False
            return file_crc(path) == crc
        except OSError:
            return False

    def make_dir(self, name: str) -> None:
        self._ensure(name, self.path(name))

    def _ensure(self, name: str, folder: Path) -> None:
        if folder in self._made:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # FileExistsError, NotADirectoryError: a file where a folder must go
            raise Clash(f"{name}: cannot be written, {self._blocker(folder)} ({err.strerror})") from err
        self._made.add(folder)

    def _blocker(self, folder: Path) -> str:
        """The first path on the way to `folder` that is not a folder, as the destination names it."""
        for parent in (*reversed(folder.relative_to(self.dest).parents), folder.relative_to(self.dest)):
            here = self.dest / parent
            if here.exists() and not here.is_dir():
                return f"{parent.as_posix()} is a file in {self.dest}"
        return f"{folder} cannot be made"

    @contextmanager
    def writing(self, name: str) -> Iterator[BinaryIO]:
        """A file to write `name` into; it is renamed into place only if the block ends without error.

        The caller verifies inside the block (raising on a mismatch), so nothing unverified lands.
        The folders come first: a member whose place is taken (`x` is a file and this is `x/y`, or
        this is `x` and `x/` is a folder) is a Clash before any byte of it is read.
        """
        target = self.path(name)
        self._ensure(name, target.parent)
        if target.is_dir():
            raise Clash(f"{name}: cannot be written, {name} is a folder in {self.dest}")
        with atomic_file(target, staging=self.staging, make_parent=False) as f:  # umask mode, as open() gives
            yield f

    def close(self) -> None:
        """Remove the staging folder (empty unless a writer is still running, which close must follow)."""
        shutil.rmtree(self.staging, ignore_errors=True)
