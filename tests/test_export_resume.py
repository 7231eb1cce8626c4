"""A real `kill -9` mid-export, then a re-run: the result equals an uninterrupted run byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.scenes import write_dataset
from sunprep.export.manifest import JOURNAL
from sunprep.export.run import ExportConfig, run_export

SHARD_MB = 0.04  # ~40 KiB of PNGs: several parquet shards per split at 32x64


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sunrgbd")
    write_dataset(root, 60, seed=9, size=(106, 146))
    return root


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every output file but report.json (it holds timings and the resume count)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "report.json"}


def journal_lines(out: Path) -> int:
    try:
        return (out / JOURNAL).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def kill_mid_run(dataset: Path, out: Path, fmt: str, after_lines: int) -> None:
    """Start `python -m sunprep export`, and SIGKILL it (with its workers) once the journal grows.

    A FIFO stands in for a later scene's JPEG, so the reading worker blocks there and the run
    cannot finish before the kill, however fast the machine; the real file is put back after.
    """
    jpg = sorted(dataset.rglob("image/*.jpg"))[45]
    real = jpg.read_bytes()
    jpg.unlink()
    os.mkfifo(jpg)
    cmd = [sys.executable, "-m", "sunprep", "export", "--root", str(dataset), "--out", str(out), "--format", fmt,
           "--size", "32x64", "--val-fraction", "0.3", "--shard-mb", str(SHARD_MB), "--workers", "2", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while journal_lines(out) < after_lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        running = proc.poll() is None
        if running:
            os.killpg(proc.pid, signal.SIGKILL)  # the export and the worker processes it started
    finally:
        proc.wait()
        jpg.unlink()
        jpg.write_bytes(real)
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    assert running and proc.returncode == -signal.SIGKILL, f"export ended before the kill ({proc.returncode}): {stderr}"


@pytest.mark.parametrize("fmt", ["cityscapes", "parquet"])
def test_kill_9_then_resume_equals_clean_run(dataset, tmp_path, fmt) -> None:
    cfg = {"root": dataset, "format": fmt, "size": (32, 64), "val_fraction": 0.3, "shard_bytes": int(SHARD_MB * 2**20)}
    clean = tmp_path / "clean"
    run_export(ExportConfig(out=clean, workers=2, **cfg))

    resumed = tmp_path / "resumed"
    kill_mid_run(dataset, resumed, fmt, after_lines=12)
    assert (resumed / JOURNAL).is_file() and not (resumed / "manifest.parquet").exists()
    partial = tree_bytes(resumed)
    assert 0 < len(partial) < len(tree_bytes(clean))

    report = run_export(ExportConfig(out=resumed, workers=1, **cfg))
    assert 0 < report.resumed < 60 and report.processed == 60 - report.resumed - len(report.skipped)
    assert tree_bytes(resumed) == tree_bytes(clean)
    assert not (resumed / JOURNAL).exists()


def test_rerun_of_finished_export_reads_nothing(dataset, tmp_path) -> None:
    cfg = ExportConfig(root=dataset, out=tmp_path, size=(16, 32), workers=1)
    run_export(cfg)
    before = tree_bytes(tmp_path)
    again = run_export(cfg)
    assert again.processed == 0 and again.resumed == 60
    assert tree_bytes(tmp_path) == before


def manifest_keys(out: Path) -> list[tuple[str, int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(out / "manifest.parquet", columns=["split", "index"]).to_pylist()
    return [(r["split"], r["index"]) for r in table]


def cut_last_line(out: Path) -> None:
    """Leave the journal as a kill mid-write would: its last line torn half-way."""
    data = (out / JOURNAL).read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    (out / JOURNAL).write_bytes(data[: start + (len(data) - start) // 2])


@pytest.mark.parametrize("fmt", ["cityscapes", "parquet"])
def test_torn_line_and_a_second_kill_during_the_resume(dataset, tmp_path, fmt) -> None:
    cfg = {"root": dataset, "format": fmt, "size": (32, 64), "val_fraction": 0.3, "shard_bytes": int(SHARD_MB * 2**20)}
    clean = tmp_path / "clean"
    run_export(ExportConfig(out=clean, workers=2, **cfg))

    out = tmp_path / "resumed"
    kill_mid_run(dataset, out, fmt, after_lines=12)
    cut_last_line(out)
    first = journal_lines(out)
    kill_mid_run(dataset, out, fmt, after_lines=first + 8)  # the second interruption, during the resume
    assert journal_lines(out) > first
    cut_last_line(out)
    cmd = [sys.executable, "-m", "sunprep", "export", "--root", str(dataset), "--out", str(out), "--format", fmt,
           "--size", "32x64", "--val-fraction", "0.3", "--shard-mb", str(SHARD_MB), "--workers", "1", "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    keys = manifest_keys(out)
    assert len(keys) == len(set(keys)) == len(manifest_keys(clean))
    assert tree_bytes(out) == tree_bytes(clean)


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited; only its entry waits to be reaped


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to list the workers")
def test_workers_exit_when_the_parent_is_killed(dataset, tmp_path) -> None:
    out = tmp_path / "out"
    jpg = sorted(dataset.rglob("image/*.jpg"))[20]
    real = jpg.read_bytes()
    jpg.unlink()
    os.mkfifo(jpg)  # a worker blocks here: the export cannot finish before the kill
    cmd = [sys.executable, "-m", "sunprep", "export", "--root", str(dataset), "--out", str(out),
           "--size", "32x64", "--workers", "2", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while (journal_lines(out) < 4 or len(workers) < 2) and time.monotonic() < deadline:
            workers = children_of(proc.pid)
            time.sleep(0.01)
        assert len(workers) >= 2, "the export never started its workers"
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as `kill -9 PID` does
        proc.wait()
        deadline = time.monotonic() + 10
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.02)
        survivors = [w for w in workers if alive(w)]
    finally:
        for w in workers:
            if alive(w):
                os.kill(w, signal.SIGKILL)
        jpg.unlink()
        jpg.write_bytes(real)
    assert survivors == []


def test_the_same_root_by_another_path_resumes(dataset, tmp_path, monkeypatch) -> None:
    """Relative and absolute spellings of one root are one export's settings."""
    out = tmp_path / "out"
    run_export(ExportConfig(root=dataset, out=out, size=(16, 32), workers=1))
    monkeypatch.chdir(dataset.parent)
    again = run_export(ExportConfig(root=Path(dataset.name), out=out, size=(16, 32), workers=1))
    assert again.resumed == sum(again.counts.values()) > 0 and again.processed == 0
