"""`--format parquet`: samples as rows of size-bounded Parquet shards.

`OUT/{split}/part-<k:05d>.parquet`; columns `index, split, scene, scene_type, height, width`
and the PNG bytes `image` (RGB), `label` (8-bit, 255 void), `depth` (16-bit mm). pandas,
pyarrow and Hugging Face `load_dataset("parquet", data_files=...)` read them as they are.

A shard is streamed to a temporary file one row group at a time (memory holds one group, not a
shard) and renamed into place once the next row would push its PNG bytes past `shard_bytes`;
so a shard never exceeds the bound (unless one row alone does), and a killed run loses only the
rows of the shard it was writing. Shard boundaries and row groups depend only on the row
sequence, so a resumed run writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sunprep.atomic import atomic_path
from sunprep.errors import TrainError
from sunprep.export.formats import record
from sunprep.export.manifest import Done
from sunprep.export.reading import Listing, Record, depth_png, label_png, rgb_png
from sunprep.export.sample import Encoded, Sample, png_files

DEFAULT_SHARD_BYTES = 256 * 2**20  # about 3,000 samples at 128x256: two shards for all of kv2
ROWS_PER_GROUP = 64  # ~6 MB groups: small for streaming readers (HF uses 100 image rows), and the memory a shard takes
ROLES = ("image", "label", "depth")

SCHEMA = pa.schema(
    [
        ("index", pa.int64()),
        ("split", pa.string()),
        ("scene", pa.string()),
        ("scene_type", pa.string()),
        ("height", pa.int32()),
        ("width", pa.int32()),
        ("image", pa.binary()),
        ("label", pa.binary()),
        ("depth", pa.binary()),
    ]
)


SHARD_GLOB = "part-*.parquet"


def shard_path(split: str, k: int) -> str:
    return f"{split}/part-{k:05d}.parquet"


def shard_number(rel: str) -> int:
    """`train/part-00003.parquet` -> 3 (the inverse of shard_path)."""
    return int(Path(rel).stem.split("-")[1])


@dataclass
class _Shard:
    """The shard of one split being written: its temporary file and what it holds so far."""

    rel: str
    files: ExitStack  # holds sunprep.atomic's temporary until the shard is complete
    writer: pq.ParquetWriter
    group: list[tuple[int, Encoded]] = field(default_factory=list)  # rows not yet in a row group
    done: list[Done] = field(default_factory=list)
    nbytes: int = 0


NAME = "parquet"


class ShardWriter:
    name = NAME

    def __init__(self, out: Path, done: tuple[Done, ...] = (), shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        self.out = Path(out)
        self.shard_bytes = shard_bytes
        self._open: dict[str, _Shard] = {}
        # A resumed run starts after the last complete shard of each split.
        self._next: dict[str, int] = {}
        for d in done:
            k = shard_number(d.files[0]) + 1
            self._next[d.split] = max(self._next.get(d.split, 0), k)

    def __getstate__(self) -> dict:
        # Workers only encode: they get neither open files nor buffered rows.
        return {"out": self.out, "shard_bytes": self.shard_bytes, "_open": {}, "_next": {}}

    def encode(self, sample: Sample) -> dict[str, bytes]:
        return png_files(sample)

    def stage(self, split: str, enc: Encoded) -> Encoded:
        return enc  # the bytes go to the parent, which streams them into the shard

    def put(self, split: str, index: int, enc: Encoded) -> list[Done]:
        size = sum(len(b) for b in enc.files.values())
        shard = self._open.get(split)
        completed = []
        if shard is not None and shard.nbytes + size > self.shard_bytes:
            completed = self._finish(split)
            shard = None
        if shard is None:
            shard = self._start(split)
        shard.group.append((index, enc))
        shard.done.append(record(split, index, enc, (shard.rel,)))
        shard.nbytes += size
        if len(shard.group) == ROWS_PER_GROUP:
            self._write_group(split, shard)
        return completed

    def close(self) -> list[Done]:
        return [d for split in sorted(self._open) for d in self._finish(split)]

    def _start(self, split: str) -> _Shard:
        k = self._next.get(split, 0)
        self._next[split] = k + 1
        rel = shard_path(split, k)
        files = ExitStack()
        tmp = files.enter_context(atomic_path(self.out / rel, durable=True))  # the journal vouches for it next
        # PNG bytes do not compress further; no compression keeps shards quick to write and read.
        writer = pq.ParquetWriter(tmp, SCHEMA, compression="none")
        shard = _Shard(rel, files, writer)
        self._open[split] = shard
        return shard

    def _write_group(self, split: str, shard: _Shard) -> None:
        rows = shard.group
        columns = {
            "index": [i for i, _ in rows],
            "split": [split] * len(rows),
            "scene": [e.meta.scene for _, e in rows],
            "scene_type": [e.meta.scene_type for _, e in rows],
            "height": [e.height for _, e in rows],
            "width": [e.width for _, e in rows],
            **{role: [e.files.get(role) for _, e in rows] for role in ROLES},  # no depth: null
        }
        shard.writer.write_table(pa.table(columns, schema=SCHEMA), row_group_size=ROWS_PER_GROUP)
        shard.group = []

    def _finish(self, split: str) -> list[Done]:
        """Write the last row group, close the file and rename it into place."""
        shard = self._open.pop(split)
        if shard.group:
            self._write_group(split, shard)
        shard.writer.close()
        shard.files.close()  # os.replace(temporary, shard)
        return shard.done


def detect(root: Path) -> list[Path]:
    """The layout's shards under `root`, sorted; empty when it holds none."""
    return sorted(root.glob(f"*/{SHARD_GLOB}"))


def split_of(rel: Path) -> str:
    return rel.parts[0]


def listing(root: Path, split: str) -> Listing:
    """Every row of `<split>/part-*.parquet`, in index order; PNGs decoded when a sample is read."""
    rows: list[tuple[int, str, dict]] = []
    for part in sorted((root / split).glob(SHARD_GLOB)):
        try:
            names = pq.read_schema(part).names
            columns = ["index", "image", "label"] + (["depth"] if "depth" in names else [])
            t = pq.read_table(part, columns=columns).to_pylist()
        except (KeyError, ValueError, OSError) as err:
            raise TrainError(f"{part}: not an export shard ({err})".splitlines()[0]) from None
        rows += [(r["index"], str(part), r) for r in t]
    rows.sort(key=lambda r: r[0])

    def read(k: int, with_depth: bool) -> Record:
        index, part, row = rows[k]
        where = f"{part}[index={index}]"
        depth = row.get("depth")
        return Record(
            rgb_png(row["image"], f"{where}.image"),
            label_png(row["label"], f"{where}.label"),
            depth_png(depth, f"{where}.depth") if with_depth and depth is not None else None,
            f"{where}.image",
            f"{where}.label",
            f"{where}.depth",
        )

    return Listing(tuple(f"{split}/{r[0]}" for r in rows), np.array([r[0] for r in rows], np.int64), read)
