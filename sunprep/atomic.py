"""Atomic file output, the one temp-then-rename mechanism of the project.

Every output is written under a temporary name, then `os.replace`d onto its final name: an
interrupted run never leaves a half-written file under a final name, and a re-run may treat
every existing output as complete. The temporary lives beside its target, or in a staging
folder of the same file system (exports and fetches keep theirs out of the dataset folders).

Temporaries are created with mode 0o666 through the process umask, exactly as a plain `open()`
would create the final file (`tempfile.mkstemp` makes 0600, which left every export, checkpoint
and fetched file unreadable to colleagues on shared storage).

`durable=True` also fsyncs the data before the rename, for files a journal is about to vouch
for; their folder's entry is made durable by `sync_dirs` (see sunprep.export.manifest).
"""

from __future__ import annotations

import glob
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sunprep.errors import BadInput

TMP_MARK = ".tmp"  # in every temporary's name: `.<name>.<random>.tmp<suffix>`
NAME_MAX = 255  # bytes in one file name: ext4, xfs, btrfs, tmpfs and NFS all stop there
_RANDOM_HEX = 12  # secrets.token_hex(6)
_MAX_SUFFIX = 16  # bytes


def temporary_parts(name: str) -> tuple[str, str]:
    """(stem, suffix) of `name` in its temporaries' names `.<stem>.<random>.tmp<suffix>`, cut
    (at a character boundary) to fit NAME_MAX bytes however long `name` is.

    The final name may be near the limit itself (a 250-character scene folder): a temporary
    embedding it whole could not be created, and every re-run failed the same way. A suffix too
    long to be a format's (`.npy`, `.png`) is dropped rather than cut.
    """
    suffix = Path(name).suffix
    if len(suffix.encode()) > _MAX_SUFFIX:
        suffix = ""
    room = NAME_MAX - len(f"..{'0' * _RANDOM_HEX}{TMP_MARK}{suffix}".encode())
    return name.encode()[:room].decode(errors="ignore"), suffix


def create_temporary(folder: Path, name: str) -> tuple[int, Path]:
    """A new, empty file `folder/.<name>.<random>.tmp<suffix>` opened for writing: (fd, path).

    The name keeps the final suffix, so writers that infer a format from it (PIL, numpy) work;
    `<name>` is cut to fit the file-name limit (`temporary_parts`).
    """
    folder = Path(folder)
    stem, suffix = temporary_parts(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = folder / f".{stem}.{secrets.token_hex(_RANDOM_HEX // 2)}{TMP_MARK}{suffix}"
        try:
            return os.open(tmp, flags, 0o666), tmp  # 0o666 & ~umask: what open() gives
        except FileExistsError:  # 48 random bits: only a collision retries
            continue


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dirs(folders: Iterable[Path]) -> None:
    """Make renames into these folders durable (a rename is an entry of its folder)."""
    for folder in folders:
        fsync_file(folder)


def publish(tmp: Path, path: Path, *, durable: bool = False) -> None:
    """Rename a finished temporary onto its final name (fsyncing its bytes first when durable)."""
    if durable:
        fsync_file(tmp)
    os.replace(tmp, path)


@contextmanager
def atomic_path(
    path: Path, *, staging: Path | None = None, durable: bool = False, make_parent: bool = True
) -> Iterator[Path]:
    """Yield a temporary path for `path`; on success it replaces `path`, on error it is removed.

    The temporary sits beside `path`, or in `staging` (same file system) when given. A caller
    that knows the folder exists passes `make_parent=False` (a mkdir per file costs as much as
    writing a small one).
    """
    path = Path(path)
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(staging if staging is not None else path.parent, path.name)
    os.close(fd)
    try:
        yield tmp
        publish(tmp, path, durable=durable)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file(
    path: Path, *, staging: Path | None = None, durable: bool = False, make_parent: bool = True
) -> Iterator[BinaryIO]:
    """`atomic_path` as an open binary file."""
    with atomic_path(path, staging=staging, durable=durable, make_parent=make_parent) as tmp, tmp.open("wb") as f:
        yield f


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str, *, durable: bool = False) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def stage_bytes(folder: Path, name: str, data: bytes, *, durable: bool = False) -> Path:
    """Write `data` to a new temporary in `folder`, for a later `publish` by another process."""
    fd, tmp = create_temporary(folder, name)
    with open(fd, "wb") as f:
        f.write(data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    return tmp


def stale_temporaries(path: Path) -> list[Path]:
    """Temporaries `atomic_path` left beside `path` when its process was killed mid-write.

    Only a kill leaves one (an exception removes it); a re-run of the same writer clears them.
    """
    path = Path(path)
    stem, suffix = temporary_parts(path.name)
    return sorted(path.parent.glob(f".{glob.escape(stem)}.*{TMP_MARK}{glob.escape(suffix)}"))


def check_out_folder(path: Path) -> None:
    """An output folder must be a folder, or creatable as one: one line naming what is in the way."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "" if p == path else f" (on the way to {path})"
                raise BadInput(f"{p}: is a file, not a folder{what}")
            if not os.access(p, os.W_OK | os.X_OK):
                raise BadInput(f"{p}: not writable")
            return
