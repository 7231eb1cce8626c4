"""The cross-domain study on two small synthetic domains with different label spaces."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset, write_parquet_dataset
from sunprep.cli import app
from sunprep.figures.canvas import size_px
from sunprep.figures.study import results_figure
from sunprep.train.checkpoint import load_checkpoint

ARGS = ["--epochs", "2", "--width", "8", "--poolings", "2", "--batch-size", "4", "--lr", "0.01", "--device", "cpu", "--quiet",
        "--finetune-epochs", "1",
        "--finetune-lr", "0.005"]


def test_study_writes_matrix_with_forgetting_and_transfer(tmp_path: Path) -> None:
    a = write_npy_dataset(tmp_path / "a", 16, 6, seed=1, n_classes=5)
    b = write_parquet_dataset(tmp_path / "b", 16, 6, seed=2, n_classes=3)  # another layout and label space
    out = tmp_path / "study"
    res = CliRunner().invoke(app, ["crossdomain", "--domain-a", str(a), "--domain-b", str(b), "--out", str(out), *ARGS])
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert list(rows) == ["A", "B", "A->B", "B->A"]
    num = lambda s: float(s) if s else math.nan
    assert rows["A"]["miou_on_b"] == "" and rows["B"]["miou_on_a"] == ""  # no head for the other space
    for m in ("A->B", "B->A"):
        assert 0 <= num(rows[m]["miou_on_a"]) <= 1 and 0 <= num(rows[m]["miou_on_b"]) <= 1
    assert num(rows["A->B"]["forgetting"]) == pytest.approx(num(rows["A"]["miou_on_a"]) - num(rows["A->B"]["miou_on_a"]), abs=3e-6)
    assert num(rows["A->B"]["transfer"]) == pytest.approx(num(rows["A->B"]["miou_on_b"]) - num(rows["B"]["miou_on_b"]), abs=3e-6)
    assert num(rows["B->A"]["transfer"]) == pytest.approx(num(rows["B->A"]["miou_on_a"]) - num(rows["A"]["miou_on_a"]), abs=3e-6)
    md = (out / "results.md").read_text()
    assert "| A->B | A then B |" in md and md in res.output
    nan4 = [math.nan] * 4
    blank = results_figure(list(rows), np.full((4, 2), np.nan), nan4, nan4, ["A", "B"], "")
    assert Image.open(out / "results.png").size == size_px(blank) and f"wrote {out / 'results.png'}" in res.output
    assert len(load_checkpoint(out / "A_to_B" / "last.pt")["heads"]) == 2
    # Fine-tuning runs its own epochs at its own rate, recorded in the results and each run's config.
    assert [(r["epochs"], r["lr"]) for r in rows.values()] == [("2", "0.01"), ("2", "0.01"), ("1", "0.005"), ("1", "0.005")]
    assert "fine-tuning 1 epochs at lr 0.005" in md
    for run, epochs, lr in (("A", 2, 0.01), ("B_to_A", 1, 0.005)):
        assert [len(load_checkpoint(out / run / "last.pt")["history"]), json.loads((out / run / "config.json").read_text())["lr"]] == [epochs, lr]
    # A finished study is not retrained: a second call only re-scores.
    before = (out / "A" / "last.pt").stat().st_mtime_ns
    again = CliRunner().invoke(app, ["crossdomain", "--domain-a", str(a), "--domain-b", str(b), "--out", str(out), *ARGS])
    assert again.exit_code == 0 and (out / "A" / "last.pt").stat().st_mtime_ns == before
    assert "wrote" in again.output and md in again.output
