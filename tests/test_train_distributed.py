"""torchrun: 2 gloo processes on CPU train, evaluate with an all-reduced confusion matrix equal to
one process's evaluation of the checkpoint, and only rank 0 writes files or prints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from fixtures.npy_dataset import write_npy_dataset
from sunprep.train.checkpoint import load_checkpoint
from sunprep.train.config import EvalConfig
from sunprep.train.evaluate import evaluate
from sunprep.train.loop import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--width", "8", "--poolings", "2", "--batch-size", "4", "--lr", "0.01", "--device", "cpu", "--quiet"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(logs: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           "--log-dir", str(logs), "--redirects", "3", "-m", "sunprep", *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def _rank_log(logs: Path, rank: int, name: str) -> str:
    return "".join(p.read_text() for p in sorted(logs.glob(f"*/attempt_*/{rank}/{name}.log")))


def test_two_gloo_processes_train_resume_and_match_single_process_evaluation(tmp_path: Path) -> None:
    data = write_npy_dataset(tmp_path / "data", 22, 9, seed=5)  # 22 = two uneven-free shards; 9 val: uneven
    run = tmp_path / "run"
    _torchrun(tmp_path / "logs1", "train", "--data", str(data), "--out", str(run), "--epochs", "1", *TRAIN)
    # --resume under DDP, extending the finished run (the schedule change is said on stderr).
    _torchrun(tmp_path / "logs2", "train", "--data", str(data), "--out", str(run), "--epochs", "2", "--resume", *TRAIN)

    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["world_size"] == 2
    assert not any(k.startswith("module.") for k in ckpt["model"])
    assert ckpt["schedule_changes"] == [{"at_epoch": 1, "epochs_before": 1, "epochs_after": 2}]
    single = evaluate(EvalConfig(checkpoint=run / "last.pt", data=data, device="cpu", predictions=tmp_path / "pred1"))
    assert ckpt["history"][-1]["val_miou"] == single.scores.miou  # exact: integer confusion, summed

    # Rank 0 alone wrote files and printed; rank 1 said nothing.
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "curves.png", "last.pt", "metrics.csv"]
    assert '"world_size": 2' in (run / "config.json").read_text()
    assert len((run / "metrics.csv").read_text().splitlines()) == 3
    for logs in ("logs1", "logs2"):
        assert "epoch " in _rank_log(tmp_path / logs, 0, "stdout")
        assert _rank_log(tmp_path / logs, 1, "stdout") == "" and _rank_log(tmp_path / logs, 1, "stderr") == ""
    assert "poly schedule is recomputed" in _rank_log(tmp_path / "logs2", 0, "stderr")

    # evaluate under torchrun: the same confusion matrix as one process.
    _torchrun(tmp_path / "logs3", "evaluate", "--checkpoint", str(run / "last.pt"), "--data", str(data),
              "--out", str(tmp_path / "eval"), "--save-predictions", str(tmp_path / "pred2"), "--device", "cpu", "--quiet")  # fmt: skip
    rows = (tmp_path / "eval" / "confusion.csv").read_text().splitlines()[1:]
    ddp_cm = np.array([[int(v) for v in r.split(",")[1:]] for r in rows])
    assert np.array_equal(ddp_cm, single.confusion)
    # Each rank wrote its own images' predictions: together, the single process's files.
    pngs = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    assert pngs(tmp_path / "pred2") == pngs(tmp_path / "pred1") and len(pngs(tmp_path / "pred1")) == 2 * 9
    assert _rank_log(tmp_path / "logs3", 1, "stdout") == ""
    # ... and the checkpoint of 2 processes resumes in one process.
    cfg = TrainConfig(data=data, out=run, epochs=3, resume=True, width=8, poolings=2, batch_size=4, lr=0.01, device="cpu")
    assert load_checkpoint(train(cfg))["world_size"] == 1
