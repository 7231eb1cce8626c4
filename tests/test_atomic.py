"""The one temp-then-rename mechanism: final names only ever hold complete files, with umask modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fixtures.scenes import write_dataset
from sunprep.atomic import atomic_file, atomic_path, write_text_atomic
from sunprep.export.run import ExportConfig, run_export


def test_the_final_name_never_shows_a_partial_file(tmp_path) -> None:
    final = tmp_path / "out.bin"
    final.write_bytes(b"old and complete")
    with atomic_path(final) as tmp:
        assert tmp != final and tmp.parent == final.parent
        tmp.write_bytes(b"half")
        assert final.read_bytes() == b"old and complete"  # not yet replaced
    assert final.read_bytes() == b"half"
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "new.bin") as f:
        f.write(b"partial")
        raise RuntimeError("killed mid-write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # neither the partial file nor a temporary


def _modes(out: Path) -> set[int]:
    return {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_output_gets_the_mode_open_would_give(tmp_path, umask) -> None:
    root = tmp_path / "data"
    write_dataset(root, 3, seed=2, size=(12, 16))
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "plain" / "a.txt", "x")
        for fmt in ("cityscapes", "parquet"):
            run_export(ExportConfig(root=root, out=tmp_path / fmt, format=fmt, size=(8, 16), workers=2))
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    assert _modes(tmp_path / "plain") == {want}
    for fmt in ("cityscapes", "parquet"):
        assert _modes(tmp_path / fmt) == {want}, fmt  # samples, manifest, report, classes.csv
