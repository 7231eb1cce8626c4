"""`--format parquet`: samples as rows of size-bounded Parquet shards, in Hugging Face's own form.

`OUT/{split}/part-<k:05d>.parquet`; columns `index, split, scene, scene_type, height, width`
and `image` (RGB PNG), `label` (8-bit PNG, class id per pixel, 255 void) and `depth` (16-bit
PNG, millimetres, 0 missing; null under `--depth none`). The three PNG columns are `datasets`
Image features: structs `{bytes, path}` with the features JSON under the schema metadata key
`huggingface`, exactly as `datasets` writes them, so `load_dataset("parquet", data_files=...)`
decodes them to PIL images with no user code, while pandas and pyarrow read plain structs.
The key `sunprep` holds the class table, label space, void value and depth unit, so a shard
alone says what its pixels mean.

A shard is streamed to a temporary file one row group at a time (memory holds one group, not a
shard) and renamed into place once the next row would push its PNG bytes past `shard_bytes`;
so a shard never exceeds the bound (unless one row alone does), and a killed run loses only the
rows of the shard it was writing. Shard boundaries and row groups depend only on the row
sequence, so a resumed run writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
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
from sunprep.export.sample import DEPTH_PNG_SCALE, Encoded, Sample, png_files
from sunprep.labels.classes import VOID_PNG, ClassTable

DEFAULT_SHARD_BYTES = 256 * 2**20  # about 3,000 samples at 128x256: two shards for all of kv2
ROWS_PER_GROUP = 64  # ~6 MB groups: small for streaming readers (HF uses 100 image rows), and the memory a shard takes
ROLES = ("image", "label", "depth")

VALUES = (("index", pa.int64()), ("split", pa.string()), ("scene", pa.string()), ("scene_type", pa.string()),
          ("height", pa.int32()), ("width", pa.int32()))  # fmt: skip
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])  # `datasets.Image()`'s storage type
HF_KEY, SUNPREP_KEY = b"huggingface", b"sunprep"


def shard_schema(classes: ClassTable, label_space: str) -> pa.Schema:
    """The columns, with what `datasets` reads as features and what sunprep says the pixels mean."""
    features = {name: {"dtype": str(t), "_type": "Value"} for name, t in VALUES} | {role: {"_type": "Image"} for role in ROLES}
    about = {
        "label_space": label_space,
        "classes": [{"id": i, "name": n, "colour": list(c)} for i, (n, c) in enumerate(zip(classes.names, classes.colours))],
        "label": f"8-bit PNG of class ids, {VOID_PNG} void",
        "void": VOID_PNG,
        "depth": "16-bit PNG, 0 missing",
        "depth_unit": "mm",
        "depth_scale": DEPTH_PNG_SCALE,  # stored value / depth_scale = metres
    }
    fields = [*VALUES, *((role, IMAGE) for role in ROLES)]
    return pa.schema(fields, metadata={HF_KEY: json.dumps({"info": {"features": features}}), SUNPREP_KEY: json.dumps(about)})


def image_cell(png: bytes | None) -> dict | None:
    """One Image feature value; null (no depth) stays null."""
    return None if png is None else {"bytes": png, "path": None}


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

    def __init__(self, out: Path, schema: pa.Schema, done: tuple[Done, ...] = (), shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        self.out = Path(out)
        self.schema = schema
        self.shard_bytes = shard_bytes
        self._open: dict[str, _Shard] = {}
        # A resumed run starts after the last complete shard of each split.
        self._next: dict[str, int] = {}
        for d in done:
            k = shard_number(d.files[0]) + 1
            self._next[d.split] = max(self._next.get(d.split, 0), k)

    def __getstate__(self) -> dict:
        # Workers only encode: they get neither open files nor buffered rows.
        return {"out": self.out, "schema": self.schema, "shard_bytes": self.shard_bytes, "_open": {}, "_next": {}}

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
        writer = pq.ParquetWriter(tmp, self.schema, compression="none")
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
            **{role: [image_cell(e.files.get(role)) for _, e in rows] for role in ROLES},  # no depth: null
        }
        shard.writer.write_table(pa.table(columns, schema=self.schema), row_group_size=ROWS_PER_GROUP)
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
            schema = pq.read_schema(part)
            if schema.field("image").type != IMAGE:
                raise TrainError(f"{part}: PNGs as plain bytes, the form before Image features; re-export it with `sunprep export --format parquet`")
            columns = ["index", "image", "label"] + (["depth"] if "depth" in schema.names else [])
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
            rgb_png(_png(row["image"]), f"{where}.image"),
            label_png(_png(row["label"]), f"{where}.label"),
            depth_png(_png(depth), f"{where}.depth") if with_depth and depth is not None else None,
            f"{where}.image",
            f"{where}.label",
            f"{where}.depth",
        )

    return Listing(tuple(f"{split}/{r[0]}" for r in rows), np.array([r[0] for r in rows], np.int64), read)


def _png(cell: dict | None) -> bytes:
    """An Image feature's bytes; empty (so unreadable, named) for a null cell or one holding only a path."""
    return (cell or {}).get("bytes") or b""
