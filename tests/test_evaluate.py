"""`sunprep train` / `sunprep evaluate` end to end through the CLI, scores checked independently."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.classification import MulticlassJaccardIndex
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset
from sunprep.cli import app
from sunprep.figures.canvas import size_px
from sunprep.train.data import open_dataset
from sunprep.train.evaluate import EvalConfig, evaluate, figures
from sunprep.train.loop import infer, load_for_eval

TRAIN = ["--epochs", "2", "--width", "8", "--poolings", "2", "--batch-size", "4", "--lr", "0.01", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A dataset and a checkpoint trained on it through the CLI."""
    root = tmp_path_factory.mktemp("eval")
    data = write_npy_dataset(root / "data", 24, 10, seed=5)
    res = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(root / "run"), *TRAIN])
    assert res.exit_code == 0, res.output
    assert res.output.count("val mIoU") == 2 and "checkpoint:" in res.output
    return data, root / "run" / "last.pt"


def test_evaluate_writes_tables_that_agree_with_torchmetrics(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = run
    res = CliRunner().invoke(app, ["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "mIoU" in res.output and "class4" in res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    # Reference: every prediction of the split concatenated, scored once by torchmetrics.
    model, _ = load_for_eval(ckpt, torch.device("cpu"))
    split = open_dataset(data).load("val")
    preds = torch.cat([p for _, p, _ in infer(model, summary["head"], split, 3, torch.device("cpu"))])
    ref = MulticlassJaccardIndex(num_classes=5, ignore_index=-1, average="macro")(preds, torch.from_numpy(split.labels).long())
    assert summary["miou"] == pytest.approx(float(ref), abs=1e-6)
    assert summary["images"] == 10
    cm = np.array([row[1:] for row in csv.reader((tmp_path / "confusion.csv").open())][1:], np.int64)
    assert cm.sum() == summary["labelled_pixels"] == int((split.labels >= 0).sum())
    rows = list(csv.DictReader((tmp_path / "per_class.csv").open()))
    assert [r["name"] for r in rows] == [f"class{i}" for i in range(5)]
    ious = [float(r["iou"]) for r in rows if r["iou"]]
    assert np.mean(ious) == pytest.approx(summary["miou"], abs=1e-6)
    # The pictures are written at the size their figures have (content is checked in test_figures.py).
    result = evaluate(EvalConfig(checkpoint=ckpt, data=data, device="cpu"))
    for name, fig in figures(result).items():
        assert Image.open(tmp_path / name).size == size_px(fig) and f"wrote {tmp_path / name}" in res.output


def test_save_predictions_in_another_label_space(run: tuple[Path, Path], tmp_path: Path) -> None:
    """Not the Cityscapes classes: class ids as labelTrainIds PNGs, one per image, and colour PNGs."""
    data, ckpt = run
    pred = tmp_path / "pred"
    res = CliRunner().invoke(app, ["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--save-predictions", str(pred), "--quiet"])
    assert res.exit_code == 0, res.output
    assert f"wrote 10 predictions to {pred / 'labelTrainIds'}/ and their colours to {pred / 'color'}/" in res.output
    model, _ = load_for_eval(ckpt, torch.device("cpu"))
    ds = open_dataset(data)
    split = ds.load("val")
    head = evaluate(EvalConfig(checkpoint=ckpt, data=data, device="cpu")).head
    preds = torch.cat([p for _, p, _ in infer(model, head, split, 4, torch.device("cpu"))]).numpy()
    assert sorted(p.name for p in (pred / "labelTrainIds").iterdir()) == sorted(f"val_{i}.png" for i in range(10))
    for i in range(10):
        ids = Image.open(pred / "labelTrainIds" / f"val_{i}.png")
        assert ids.mode == "L" and np.array_equal(np.asarray(ids), preds[i])
        colour = np.asarray(Image.open(pred / "color" / f"val_{i}.png"))
        assert np.array_equal(colour, np.asarray(ds.classes.colours, np.uint8)[preds[i]])
    assert not list(pred.rglob(".*"))  # no temporaries left


def test_scores_do_not_depend_on_batch_size(run: tuple[Path, Path]) -> None:
    data, ckpt = run
    one = evaluate(EvalConfig(checkpoint=ckpt, data=data, batch_size=1, device="cpu"))
    many = evaluate(EvalConfig(checkpoint=ckpt, data=data, batch_size=7, device="cpu"))
    assert np.array_equal(one.confusion, many.confusion)


def test_checkpoint_of_another_label_space_is_one_line(run: tuple[Path, Path], tmp_path: Path) -> None:
    _, ckpt = run
    other = write_npy_dataset(tmp_path / "other", 2, 2, n_classes=4)
    res = CliRunner().invoke(app, ["evaluate", "--checkpoint", str(ckpt), "--data", str(other), "--quiet"])
    assert res.exit_code == 5
    assert res.output.startswith("error: ") and "no head for the data's label space c4_" in res.output
    assert res.output.count("\n") == 1


def test_bad_inputs_through_the_cli(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, ckpt = run
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    cases = [
        (["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r"), "--quiet"], "not a known layout"),
        (["evaluate", "--checkpoint", str(tmp_path / "junk.pt"), "--data", str(data), "--quiet"], "not a readable checkpoint"),
        (["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--split", "test", "--quiet"], "no 'test' split"),
        (["train", "--data", str(data), "--out", str(tmp_path / "r"), "--device", "mps", "--quiet"], "--device mps: not available"),
    ]
    for args, message in cases:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 5 and message in res.output and res.output.count("\n") == 1, res.output
