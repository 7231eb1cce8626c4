"""Whatever a reader of one scene raises is that scene's skip reason in scan, normalize and export.

An unexpected exception (a reader bug, damage nobody foresaw) is named with its type, its
traceback is kept in the run's report, and every other scene is still read; a re-run retries
the scenes an earlier run skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sunprep.sunrgbd.scene as scene_mod
from fixtures.scenes import write_dataset
from sunprep.export.run import ExportConfig, run_export
from sunprep.labels.normalize import NormalizeConfig, run_normalize, write_outputs
from sunprep.sunrgbd.check import ScanConfig, run_scan

SIZE = (24, 33)


@pytest.fixture()
def data(tmp_path) -> tuple[Path, list[Path]]:
    root = tmp_path / "data"
    return root, write_dataset(root, 6, seed=5, size=SIZE)


def poison(monkeypatch, victim: Path, exc: Exception) -> None:
    """Make the label reader raise `exc` for one scene only (forked workers inherit the patch)."""
    real = scene_mod.labels_for

    def labels_for(scene_dir, *args, **kwargs):
        if Path(scene_dir).name == victim.name:
            raise exc
        return real(scene_dir, *args, **kwargs)

    monkeypatch.setattr(scene_mod, "labels_for", labels_for)


@pytest.mark.parametrize("workers", [1, 2])
def test_export_skips_an_unexpected_failure_with_its_traceback(data, tmp_path, monkeypatch, workers) -> None:
    root, scenes = data
    poison(monkeypatch, scenes[2], RecursionError("maximum recursion depth exceeded"))
    out = tmp_path / "out"
    report = run_export(ExportConfig(root=root, out=out, size=(8, 16), workers=workers))
    assert sum(report.counts.values()) == len(scenes) - 1
    (skip,) = report.skipped
    assert skip.reason == f"{skip.scene}: unexpected RecursionError: maximum recursion depth exceeded"
    saved = json.loads((out / "report.json").read_text())["skipped"]
    assert saved[0]["reason"] == skip.reason
    assert "Traceback (most recent call last)" in saved[0]["traceback"] and "labels_for" in saved[0]["traceback"]


def test_scan_lists_an_unexpected_failure_and_checks_the_rest(data, monkeypatch) -> None:
    root, scenes = data
    import sunprep.sunrgbd.check as check_mod

    real = check_mod.labels_for
    monkeypatch.setattr(check_mod, "labels_for", lambda d, *a, **k: (_ for _ in ()).throw(TypeError("boom")) if d.name == scenes[1].name else real(d, *a, **k))
    checks = run_scan(ScanConfig(root=root))
    assert len(checks) == len(scenes)
    bad = [c for c in checks if c.problems]
    assert [Path(c.rel_path).name for c in bad] == [scenes[1].name]
    assert bad[0].problems == (f"{scenes[1]}: unexpected TypeError: boom",)
    assert "TypeError: boom" in bad[0].tracebacks[0]


def test_normalize_skips_an_unexpected_failure_and_keeps_its_traceback(data, tmp_path, monkeypatch) -> None:
    root, scenes = data
    poison(monkeypatch, scenes[3], OverflowError("int too large to convert to float"))
    cfg = NormalizeConfig(root=root, out=tmp_path / "labels")
    result = run_normalize(cfg)
    assert result.scenes == len(scenes) - 1
    assert result.skipped == [f"{scenes[3]}: unexpected OverflowError: int too large to convert to float"]
    write_outputs(result, cfg, tmp_path / "labels")
    saved = json.loads((tmp_path / "labels" / "normalize.json").read_text())
    assert "OverflowError" in saved["tracebacks"][0]


def test_rerun_retries_a_scene_skipped_earlier_once_it_is_fixed(data, tmp_path) -> None:
    root, scenes = data
    victim = scenes[0]  # seg.mat scene
    good = (victim / "seg.mat").read_bytes()
    (victim / "seg.mat").write_bytes(b"not a mat file" * 20)
    out = tmp_path / "out"
    cfg = ExportConfig(root=root, out=out, size=(8, 16), workers=1)
    first = run_export(cfg)
    assert [Path(s.scene).name for s in first.skipped] == [victim.name]

    (victim / "seg.mat").write_bytes(good)
    again = run_export(cfg)
    assert again.processed == 1 and again.resumed == len(scenes) - 1
    assert again.skipped == () and sum(again.counts.values()) == len(scenes)
    assert json.loads((out / "report.json").read_text())["skipped"] == []


def test_a_worker_that_dies_is_one_line_and_the_rerun_resumes(data, tmp_path, monkeypatch) -> None:
    """A damaged file can crash a native reader (scipy's loadmat segfaults on some): the worker dies."""
    import os
    import signal

    from sunprep.errors import BadInput

    root, scenes = data
    victim = scenes[3]
    real = scene_mod.labels_for

    def crash(scene_dir, *args, **kwargs):
        if Path(scene_dir).name == victim.name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(scene_dir, *args, **kwargs)

    monkeypatch.setattr(scene_mod, "labels_for", crash)
    out = tmp_path / "out"
    with pytest.raises(BadInput, match="a worker process died reading this scene") as err:
        run_export(ExportConfig(root=root, out=out, size=(8, 16), workers=2))
    assert "\n" not in str(err.value)
    monkeypatch.setattr(scene_mod, "labels_for", real)
    report = run_export(ExportConfig(root=root, out=out, size=(8, 16), workers=2))
    assert sum(report.counts.values()) == len(scenes) and report.skipped == ()
