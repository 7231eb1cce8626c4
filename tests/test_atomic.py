"""The one temp-then-rename mechanism: final names only ever hold complete files, with umask modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fixtures.cityscapes import write_release
from fixtures.scenes import write_dataset
from sunprep.atomic import NAME_MAX, atomic_file, atomic_path, stale_temporaries, write_text_atomic
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


@pytest.mark.parametrize("name", ["L" * 249 + ".image", "é" * 125 + ".npy", "x" * 255, "a." + "s" * 253])
def test_temporaries_fit_the_file_name_limit_whatever_the_final_name(tmp_path, name) -> None:
    """A 250-character scene name made every staged temporary unnamable, and every re-run failed alike."""
    final = tmp_path / name
    with atomic_path(final, make_parent=False) as tmp:
        assert len(tmp.name.encode()) <= NAME_MAX
        tmp.write_bytes(b"x")
        assert stale_temporaries(final) == [tmp]  # what a re-run clears is still found by the cut name
    assert final.read_bytes() == b"x"


def test_an_export_with_a_250_character_scene_name_finishes(tmp_path) -> None:
    root = tmp_path / "data"
    (scene, *_) = write_dataset(root, 3, seed=4, size=(12, 16))
    long = scene.with_name("L" * 250)
    scene.rename(long)
    for fmt in ("cityscapes", "cityscapes-official", "parquet"):
        report = run_export(ExportConfig(root=root, out=tmp_path / fmt, format=fmt, size=(8, 8), workers=1))  # type: ignore[arg-type]
        assert sum(report.counts.values()) == 3 and not report.skipped, fmt


def test_a_frame_whose_output_name_cannot_exist_is_skipped_with_the_reason(tmp_path) -> None:
    """A 231-byte Cityscapes stem: `_gtFine_labelTrainIds.png` takes its name past 255 bytes."""
    city = "c" * 217
    write_release(tmp_path / "cs", seed=1, size=(16, 32), per_city=1, cities={"train": ("aachen", city), "val": ("bonn",)})
    report = run_export(ExportConfig(root=tmp_path / "cs", out=tmp_path / "out", dataset="cityscapes",
                                     format="cityscapes-official", size=(8, 16), workers=1))
    (skip,) = report.skipped
    assert skip.scene.endswith(f"{city}_000000_000019") and "over the 255-byte file-name limit" in skip.reason
    assert report.counts["train"] == 1 and report.counts["val"] == 1
