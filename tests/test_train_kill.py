"""`sunprep train` killed with SIGKILL mid-epoch, killed again while resuming, then resumed to the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from fixtures.npy_dataset import write_npy_dataset
from sunprep.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--epochs", "5", "--width", "8", "--poolings", "2", "--batch-size", "2", "--device", "cpu", "--quiet"]


def _finished_epochs(run: Path) -> int:
    metrics = run / "metrics.csv"
    return max(0, len(metrics.read_text().splitlines()) - 1) if metrics.is_file() else 0


def _kill_after(cmd: list[str], run: Path, epochs: int) -> None:
    """Start `cmd`, SIGKILL it once `epochs` epochs are finished (so the kill lands inside the next)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while _finished_epochs(run) < epochs and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "finished before the kill"


def test_killed_twice_then_resumed_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    data = write_npy_dataset(tmp_path / "d", 32, 4, seed=3, size=(32, 64))  # 16 steps an epoch
    base = [sys.executable, "-m", "sunprep", "train", "--data", str(data)]
    subprocess.run([*base, "--out", str(tmp_path / "full"), *ARGS], cwd=ROOT, check=True, capture_output=True)

    run = tmp_path / "cut"
    _kill_after([*base, "--out", str(run), *ARGS], run, 1)
    first = load_checkpoint(run / "last.pt")["epoch"]
    assert 1 <= first < 5
    _kill_after([*base, "--out", str(run), *ARGS, "--resume"], run, first + 1)  # the resume, interrupted too
    second = load_checkpoint(run / "last.pt")["epoch"]
    assert first < second < 5
    subprocess.run([*base, "--out", str(run), *ARGS, "--resume"], cwd=ROOT, check=True, capture_output=True)

    full, resumed = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(run / "last.pt")
    assert resumed["epoch"] == 5
    for name, tensor in full["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert [r["val_miou"] for r in resumed["history"]] == [r["val_miou"] for r in full["history"]]
    assert (run / "metrics.csv").read_text().splitlines()[1:] != [] and _finished_epochs(run) == 5
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temporaries left behind
