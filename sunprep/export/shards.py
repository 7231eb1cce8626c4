"""`--format parquet`: samples as rows of size-bounded Parquet shards.

`OUT/{split}/part-<k:05d>.parquet`; columns `index, split, scene, scene_type, height, width`
and the PNG bytes `image` (RGB), `label` (8-bit, 255 void), `depth` (16-bit mm). pandas,
pyarrow and Hugging Face `load_dataset("parquet", data_files=...)` read them as they are.

A shard is written whole, atomically, when the next row would push it past `shard_bytes`, so a
shard never exceeds the bound (unless one row alone does) and a killed run loses only rows not
yet in a complete shard. Shard boundaries depend only on the row sequence, so a resumed run
cuts the same shards as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sunprep.atomic import atomic_path
from sunprep.export.formats import record
from sunprep.export.manifest import Done
from sunprep.export.official import png_files
from sunprep.export.sample import Encoded, Sample

DEFAULT_SHARD_BYTES = 256 * 2**20  # ~2,500 samples at 128x256: a few shards for all of kv2
ROWS_PER_GROUP = 256  # row groups small enough for streaming readers

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


def shard_path(split: str, k: int) -> str:
    return f"{split}/part-{k:05d}.parquet"


@dataclass
class _Pending:
    """Rows of one split waiting for their shard."""

    next_shard: int
    rows: list[tuple[int, Encoded]] = field(default_factory=list)
    nbytes: int = 0


class ShardWriter:
    name = "parquet"

    def __init__(self, out: Path, done: tuple[Done, ...] = (), shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        self.out = Path(out)
        self.shard_bytes = shard_bytes
        self._pending: dict[str, _Pending] = {}
        # Resume after the last complete shard of each split.
        for d in done:
            k = int(Path(d.files[0]).stem.split("-")[1]) + 1
            p = self._pending.setdefault(d.split, _Pending(0))
            p.next_shard = max(p.next_shard, k)

    def __getstate__(self) -> dict:
        # Workers only encode: they get no buffered rows.
        return {"out": self.out, "shard_bytes": self.shard_bytes, "_pending": {}}

    def encode(self, sample: Sample) -> dict[str, bytes]:
        return png_files(sample)

    def put(self, split: str, index: int, enc: Encoded) -> list[Done]:
        p = self._pending.setdefault(split, _Pending(0))
        size = sum(len(b) for b in enc.files.values())
        completed = self._flush(split) if p.rows and p.nbytes + size > self.shard_bytes else []
        p.rows.append((index, enc))
        p.nbytes += size
        return completed

    def close(self) -> list[Done]:
        return [d for split in sorted(self._pending) for d in self._flush(split)]

    def _flush(self, split: str) -> list[Done]:
        p = self._pending[split]
        if not p.rows:
            return []
        rel = shard_path(split, p.next_shard)
        rows = p.rows
        table = pa.table(
            {
                "index": [i for i, _ in rows],
                "split": [split] * len(rows),
                "scene": [e.meta.scene for _, e in rows],
                "scene_type": [e.meta.scene_type for _, e in rows],
                "height": [e.height for _, e in rows],
                "width": [e.width for _, e in rows],
                **{role: [e.files[role] for _, e in rows] for role in ("image", "label", "depth")},
            },
            schema=SCHEMA,
        )
        with atomic_path(self.out / rel) as tmp:
            # PNG bytes do not compress further; skipping it keeps shards quick to write and read.
            pq.write_table(table, tmp, compression="none", row_group_size=ROWS_PER_GROUP)
        done = [record(split, i, e, (rel,)) for i, e in p.rows]
        p.next_shard += 1
        p.rows.clear()
        p.nbytes = 0
        return done
