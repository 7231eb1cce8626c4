"""The export formats by name: what `export --format` writes and what `train` detects and reads.

Each format is one module holding its file names, its writer and its reader
(`sunprep.export.cityscapes`, `.official`, `.shards`); this table is the only list of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal, get_args

from sunprep.export import cityscapes, official, shards
from sunprep.export.cityscapes import DepthEncoding, NpyWriter
from sunprep.export.formats import Writer
from sunprep.export.manifest import Done
from sunprep.export.official import OfficialWriter
from sunprep.export.reading import Listing
from sunprep.export.shards import ShardWriter
from sunprep.labels.classes import ClassTable

Format = Literal["cityscapes", "cityscapes-official", "parquet"]
FORMATS: tuple[Format, ...] = get_args(Format)


@dataclass(frozen=True)
class FormatSpec:
    """How to find, split and read one format; each function is its module's own."""

    name: Format
    detect: Callable[[Path], list[Path]]  # data files under a root, sorted; empty if not this format
    split_of: Callable[[Path], str]  # a data file's split, from its path relative to the root
    listing: Callable[[Path, str], Listing]
    pattern: str  # for the message when nothing fits


def _spec(name: Format, module: ModuleType, pattern: str) -> FormatSpec:
    assert name == module.NAME, (module.NAME, name)
    return FormatSpec(name, module.detect, module.split_of, module.listing, pattern)


SPECS: dict[Format, FormatSpec] = {
    "cityscapes": _spec("cityscapes", cityscapes, "<split>/image/<i>.npy"),
    "parquet": _spec("parquet", shards, "<split>/part-*.parquet"),
    "cityscapes-official": _spec("cityscapes-official", official, "leftImg8bit/<split>/<city>/*_leftImg8bit.png"),
}


def make_writer(
    fmt: Format, out: Path, classes: ClassTable, label_space: str, done: tuple[Done, ...] = (), *,
    depth_encoding: DepthEncoding = "metres", shard_bytes: int = shards.DEFAULT_SHARD_BYTES,
) -> Writer:
    """The writer of `fmt` into `out`; `done` are the samples of an earlier run being resumed.
    The class table and label space go into the files of formats that carry them (Parquet)."""
    if fmt == "cityscapes":
        return NpyWriter(out, depth_encoding)
    if fmt == "cityscapes-official":
        return OfficialWriter(out)
    return ShardWriter(out, shards.shard_schema(classes, label_space), done, shard_bytes)
