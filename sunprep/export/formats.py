"""The writer every export format implements, and the registry `--format` chooses from.

A writer has two halves: `encode` runs in the worker processes and turns a `Sample` into file
bytes; `put` and `close` run in the parent, in sample order, and place those bytes. Only the
parent touches the output folder, so file contents never depend on `--jobs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sunprep.atomic import write_bytes_atomic
from sunprep.export.manifest import Done
from sunprep.export.sample import Encoded, Sample


class Writer(Protocol):
    name: str

    def encode(self, sample: Sample) -> dict[str, bytes]:
        """File contents by role ("image", "label", "depth"); pure, runs in a worker."""

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
    )


def place_files(out: Path, split: str, index: int, enc: Encoded, paths: dict[str, str]) -> list[Done]:
    """Write each role's bytes atomically at its relative path; the sample is then complete."""
    for role, rel in paths.items():
        write_bytes_atomic(out / rel, enc.files[role])
    return [record(split, index, enc, tuple(paths.values()))]
