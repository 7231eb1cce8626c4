"""The writer every export format implements, and the registry `--format` chooses from.

A writer has three parts. `encode` and `stage` run in the worker processes: `encode` turns a
`Sample` into file bytes, `stage` either passes them on (Parquet: the parent streams shards) or
writes each file under a temporary name (the one-file-per-role formats), so that ~800 KB of
`.npy` per sample need not cross a pipe to be written by one process. `put` and `close` run in
the parent, in sample order: they choose the final names (indices count the samples placed so
far) and rename staged files to them. The parent alone names files, so outputs are the same
bytes for any `--workers`; a file under a final name is always complete, since only a finished
temporary is renamed to it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from sunprep.atomic import NAME_MAX, publish, stage_bytes
from sunprep.errors import BadInput
from sunprep.export.manifest import Done
from sunprep.export.sample import Encoded, Meta, Sample

# Each worker stages its files in its own folder, OUT/.staging/<pid>/, not beside their final
# names: creating a file costs ext4 0.3-1 ms here with the folder locked, and two processes
# creating in one folder sometimes took up to twice the CPU per file (not in every measurement);
# output folders also never show a temporary. A rename into the final folder is cheap (~25 us)
# and atomic across folders of one file system.
STAGING = ".staging"


class Writer(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, sample: Sample) -> dict[str, bytes]:
        """File contents by role ("image", "label", "depth"); pure, runs in a worker."""

    def stage(self, split: str, enc: Encoded) -> Encoded:
        """Worker side, after `encode`: what the parent receives for this sample."""

    def put(self, split: str, index: int, enc: Encoded) -> list[Done]:
        """Place one sample; returns the samples now complete on disk (for the journal)."""

    def close(self) -> list[Done]:
        """Write whatever is still buffered; returns the samples it completed."""


def record(split: str, index: int, enc: Encoded, files: tuple[str, ...]) -> Done:
    """The manifest row of a placed sample."""
    m = enc.meta
    return Done(
        split=split,
        index=index,
        scene=m.scene,
        scene_type=m.scene_type,
        label_source=m.label_source,
        depth_source=m.depth_source,
        input_sha256=m.input_sha256,
        output_sha256=enc.output_sha256,
        files=files,
        warnings=m.warnings,
        sensor=m.sensor,
    )


class FilePerRole:
    """Formats with one file per role and sample: workers write the files, the parent renames them."""

    out: Path

    def paths(self, split: str, index: int, meta: Meta) -> dict[str, str]:
        """Each role's file, relative to OUT."""
        raise NotImplementedError

    def stage(self, split: str, enc: Encoded) -> Encoded:
        """Write the files under temporary names; BadInput (the scene's skip) when a final name
        could not exist, before anything is written."""
        for rel in self.paths(split, 0, enc.meta).values():
            if (n := max(len(part.encode()) for part in Path(rel).parts)) > NAME_MAX:
                raise BadInput(f"{enc.meta.scene}: output name {Path(rel).name[:40]}... would be {n} bytes, over the {NAME_MAX}-byte file-name limit")
        folder = self.out / STAGING / str(os.getpid())
        folder.mkdir(parents=True, exist_ok=True)
        staged = {role: str(stage_bytes(folder, f"{enc.meta.name}.{role}", data, durable=True)) for role, data in enc.files.items()}
        return replace(enc, files={}, staged=staged)

    def put(self, split: str, index: int, enc: Encoded) -> list[Done]:
        """Rename the staged files to their final names; the sample is then complete."""
        paths = self.paths(split, index, enc.meta)
        for role, tmp in enc.staged.items():
            dest = self.out / paths[role]
            dest.parent.mkdir(parents=True, exist_ok=True)
            publish(Path(tmp), dest)  # durable already: the worker fsynced it
        return [record(split, index, enc, tuple(paths[role] for role in enc.staged))]

    def close(self) -> list[Done]:
        return []


def remove_staging(out: Path) -> None:
    """Files staged by workers and never placed: a killed or failed run's, or none."""
    shutil.rmtree(Path(out) / STAGING, ignore_errors=True)
