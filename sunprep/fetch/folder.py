"""A source already unpacked: copy the subset into the destination, giving the same tree as a zip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sunprep.errors import BadInput
from sunprep.fetch.ranged import Outcome
from sunprep.fetch.retry import Tally
from sunprep.fetch.store import HASH_CHUNK, Clash, Store, file_crc


def folder_base(root: Path, top: str) -> Path:
    """The folder that holds `top` (e.g. `SUNRGBD/`): `root` itself, or its parent when `root` is `top`."""
    if (root / top).is_dir():
        return root
    if root.name == top:
        return root.parent
    raise BadInput(f"{root}: no {top}/ folder here (give the unpacked archive's folder or its parent)")


def copy_tree(root: Path, top: str, wanted: Callable[[str], bool], store: Store, tally: Tally) -> Outcome:
    """Copy the files under `root`'s `top/` whose archive-style names `wanted` selects.

    A file already in the destination with the same size and CRC-32 as the source is left alone,
    as in a zip fetch.
    """
    base = folder_base(root, top)
    outcome = Outcome()
    for path in sorted((base / top).rglob("*")):
        name = path.relative_to(base).as_posix()
        if path.is_dir():
            if wanted(name + "/"):
                try:
                    store.make_dir(name + "/")
                except Clash as err:
                    outcome.failed.append(str(err))
            continue
        if not wanted(name):
            continue
        size = path.stat().st_size
        target = store.path(name)
        if target.is_file() and target.stat().st_size == size and store.has(name, size, file_crc(path)):
            outcome.present.append(name)
            continue
        try:
            with store.writing(name) as sink, path.open("rb") as f:
                while chunk := f.read(HASH_CHUNK):
                    sink.write(chunk)
                    tally.received(len(chunk))
        except Clash as err:
            outcome.failed.append(str(err))
            continue
        outcome.fetched.append(name)
    return outcome
