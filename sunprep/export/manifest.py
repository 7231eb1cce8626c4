"""What an export holds, sample by sample: the journal while it runs, `manifest.parquet` after.

The journal (`OUT/.export-journal.jsonl`) gets one line per sample only once its files are in
place (renamed), and one per skipped scene. A run killed at any moment therefore leaves a
journal that lists only complete work (a torn last line is cut off before appending), and a
re-run skips exactly that.

Power loss, not only a kill: a file renamed into place may still be only in the page cache, so
a journal line written at once could outlive the bytes it vouches for. So every sample's files
are fsynced before their rename (by the worker that wrote them, in parallel), and records are
committed in groups of at least COMMIT_EVERY: the folders their renames went into are fsynced,
then the lines are written, closed by a `{"committed": n}` marker. A group counts only whole:
a Parquet shard completes many samples at once, and a journal holding some of them would
resume inside a shard that is complete. A power cut loses at most the uncommitted group and the unflushed tail of
the journal, which a re-run redoes; it never leaves the journal claiming a torn file. When the run completes, the journal becomes `manifest.parquet` and is removed; a re-run
over a finished export reads the manifest instead and finds nothing left to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from sunprep.atomic import atomic_path, sync_dirs
from sunprep.errors import BadInput

JOURNAL = ".export-journal.jsonl"
COMMITTED = "committed"  # the marker line closing each group of records
COMMIT_EVERY = 8  # records per fsync of the folders they were renamed into (see benchmarks/export.py)
MANIFEST = "manifest.parquet"


@dataclass(frozen=True)
class Done:
    """One exported sample (a manifest row)."""

    split: str
    index: int
    scene: str
    scene_type: str
    label_source: str
    depth_source: str
    input_sha256: str
    output_sha256: str
    files: tuple[str, ...]  # relative to OUT; a Parquet shard for the parquet format
    warnings: tuple[str, ...]
    sensor: str = ""  # sensor folder, e.g. kv1/NYUdata; "" when none (Cityscapes); journals older than it lack it


@dataclass(frozen=True)
class Skipped:
    """A scene left out, with the one-line reason shown to the user."""

    scene: str
    reason: str
    traceback: str = ""  # for an unexpected failure (a bug or unforeseen damage); "" when expected
    unlabeled: bool = False  # left out for holding no annotation (a choice, --keep-unlabeled), not for a fault


MANIFEST_SCHEMA = pa.schema(
    [
        ("split", pa.string()),
        ("index", pa.int64()),
        ("scene", pa.string()),
        ("sensor", pa.string()),
        ("scene_type", pa.string()),
        ("label_source", pa.string()),
        ("depth_source", pa.string()),
        ("input_sha256", pa.string()),
        ("output_sha256", pa.string()),
        ("files", pa.list_(pa.string())),
        ("warnings", pa.list_(pa.string())),
        ("mapping_fingerprint", pa.string()),
        ("settings_sha256", pa.string()),
    ]
)


@dataclass(frozen=True)
class State:
    """What an output folder already holds for the given settings."""

    done: tuple[Done, ...]


class Journal:
    """Append-only record of finished samples and skipped scenes for one settings fingerprint."""

    def __init__(self, out: Path, settings_sha256: str) -> None:
        self.path = Path(out) / JOURNAL
        self.settings_sha256 = settings_sha256
        self._file: TextIO | None = None
        self._pending: list[Done | Skipped] = []

    def load(self) -> State:
        """The finished samples of an interrupted run, of a finished one, or nothing.

        Skipped scenes are not part of it: a re-run reads them again (they may have been fixed).

        Raises BadInput when the folder holds an export made with other settings: mixing two
        would leave files that no single run produces.
        """
        manifest = self.path.parent / MANIFEST
        if self.path.is_file():
            return self._load_journal()
        if manifest.is_file():
            return self._load_manifest(manifest)
        return State(())

    def _mismatch(self, where: Path) -> BadInput:
        return BadInput(f"{where}: made with other export settings; use another --out or remove it")

    def _load_journal(self) -> State:
        done: list[Done] = []
        lines = self.path.read_text("utf-8").split("\n")
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = {}
        if header.get("settings_sha256") != self.settings_sha256:
            raise self._mismatch(self.path)
        group: list[Done] = []
        for line in lines[1:]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # the torn last line of a killed run (or the empty tail)
            if COMMITTED in rec:
                done += group  # a group counts only once its marker follows it whole
                group = []
            elif "reason" not in rec:
                group.append(Done(**{**rec, "files": tuple(rec["files"]), "warnings": tuple(rec["warnings"])}))
        return State(tuple(done))

    def _load_manifest(self, manifest: Path) -> State:
        table = pq.read_table(manifest)
        rows = table.to_pylist()
        if any(r["settings_sha256"] != self.settings_sha256 for r in rows):
            raise self._mismatch(manifest)
        fields = Done.__dataclass_fields__
        done = tuple(
            Done(**{k: v for k, v in r.items() if k in fields} | {"files": tuple(r["files"]), "warnings": tuple(r["warnings"])})
            for r in rows
        )
        return State(done)

    def open(self, state: State) -> None:
        """Start appending; a fresh journal restates what a finished manifest already held."""
        fresh = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not fresh:
            drop_torn_tail(self.path)
        self._file = self.path.open("a", encoding="utf-8")
        if fresh:
            self._write({"settings_sha256": self.settings_sha256})
            self.append(*state.done)

    def _write(self, obj: dict) -> None:
        # One write per line, flushed: a kill leaves at most a torn last line, never a gap.
        assert self._file is not None, "Journal.open first"
        self._file.write(json.dumps(obj, sort_keys=True) + "\n")
        self._file.flush()

    def append(self, *records: Done | Skipped) -> None:
        """Record placed samples or skipped scenes, as one group that lands whole or not at all.

        A Parquet shard completes many samples at once: a journal holding only some of them
        would resume inside a shard that is already complete.
        """
        self._pending.extend(records)
        if len(self._pending) >= COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        """Make the pending samples' renames durable, then write their lines."""
        root = self.path.parent
        sync_dirs({(root / f).parent for rec in self._pending if isinstance(rec, Done) for f in rec.files})
        if not self._pending:
            return
        for rec in self._pending:
            self._write(vars(rec))  # the flat fields as they are: asdict's deep copy costs more than the line
        self._write({COMMITTED: len(self._pending)})
        self._pending = []

    def close(self) -> None:
        if self._file is not None:
            self.commit()
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Once the manifest is written, the journal has nothing left to say."""
        self.close()
        self.path.unlink()


def drop_torn_tail(path: Path) -> None:
    """Cut a journal after its last complete line: a killed run may have left half a line.

    Appending after a torn line would glue the next record onto it, losing that record and
    (since the glued line no longer parses) making a re-run place its sample a second time.
    """
    with path.open("r+b") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            f.truncate(keep)


def write_manifest(out: Path, done: list[Done], mapping_fingerprint: str, settings_sha256: str) -> None:
    """`manifest.parquet`, rows sorted by split then index, written atomically."""
    rows = sorted(done, key=lambda d: (d.split, d.index))
    columns = {name: [getattr(d, name) for d in rows] for name in Done.__dataclass_fields__}
    columns["files"] = [list(f) for f in columns["files"]]
    columns["warnings"] = [list(w) for w in columns["warnings"]]
    columns["mapping_fingerprint"] = [mapping_fingerprint] * len(rows)
    columns["settings_sha256"] = [settings_sha256] * len(rows)
    table = pa.table(columns, schema=MANIFEST_SCHEMA)
    with atomic_path(Path(out) / MANIFEST, durable=True) as tmp:  # durable: the journal goes next
        pq.write_table(table, tmp)
    sync_dirs([Path(out)])
