"""`sunprep analyze`: per-image scores, worst panels, scene types, baselines, CKA, feature statistics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.npy_dataset import SCENE_TYPES, write_npy_dataset, write_official_dataset
from sunprep.cli import app
from sunprep.train.analyze import AnalyzeConfig, analyze, baselines
from sunprep.train.data import open_dataset
from sunprep.train.evaluate import EvalConfig, evaluate
from sunprep.train.loop import TrainConfig, train

FAST = {"width": 8, "poolings": 2, "batch_size": 4, "lr": 1e-2, "device": "cpu"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("analyze")
    data = write_npy_dataset(root / "data", 16, 9, seed=4)
    one = train(TrainConfig(data=data, out=root / "one", epochs=2, seed=1, **FAST))
    two = train(TrainConfig(data=data, out=root / "two", epochs=2, seed=2, **FAST))
    return data, one, two


def test_analyze_cli_writes_every_table(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, one, two = setup
    other = write_official_dataset(tmp_path / "other", 2, 3, seed=8)
    args = ["analyze", "--checkpoint", str(one), "--data", str(data), "--out", str(tmp_path / "a"), "--worst", "2",
            "--compare", str(two), "--data2", str(other), "--device", "cpu", "--quiet"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    per_image = list(csv.DictReader((tmp_path / "a" / "per_image.csv").open()))
    assert len(per_image) == 9 and s["images"] == 9
    # The worst panels are the lowest per-image mIoU, ascending, and show image | gt | prediction.
    lowest = sorted(float(r["miou"]) for r in per_image)[:2]
    assert [w["miou"] for w in s["worst"]] == pytest.approx(lowest, abs=1e-6)
    panels = sorted((tmp_path / "a" / "worst").iterdir())
    assert [p.name for p in panels] == [f"{k:02d}_{w['id'].replace('/', '_')}.png" for k, w in enumerate(s["worst"], 1)]
    # Scene names come from the manifest (the fixture's sceneNNNN for index NNNN).
    assert [w["scene"] for w in s["worst"]] == [f"scene{int(w['id'].split('/')[1]):04d}" for w in s["worst"]]
    for name in ("per_image_miou.png", "scene_types.png", *(f"worst/{p.name}" for p in panels)):
        assert Image.open(tmp_path / "a" / name).format == "PNG"
    assert set(s["scene_types"]) == set(SCENE_TYPES)
    assert 0 < s["cka"]["per_position"] <= 1 and s["feature_shift"] >= 0
    stats = list(csv.reader((tmp_path / "a" / "feature_stats.csv").open()))
    assert stats[0] == ["channel", "mean_0", "std_0", "mean_1", "std_1"] and len(stats) == 1 + 8 * 4
    assert "linear CKA (per position)" in res.output and "baseline majority" in res.output


def test_totals_agree_with_evaluate_and_cka_of_a_model_with_itself_is_one(setup: tuple[Path, Path, Path]) -> None:
    data, one, _ = setup
    a = analyze(AnalyzeConfig(checkpoint=one, data=data, compare=one, device="cpu"))
    e = evaluate(EvalConfig(checkpoint=one, data=data, device="cpu"))
    assert np.array_equal(a.per_image.sum(0), e.confusion)
    assert a.cka["per_position"] == pytest.approx(1.0, abs=1e-9)
    # Scene-type confusions partition the split: their pixels add up to the whole.
    assert sum(s.pixels for s in a.by_scene_type.values()) == e.scores.pixels


def test_baselines_on_hand_made_labels(tmp_path: Path) -> None:
    """Train labels: left half class 1, right half class 2 (more pixels of 2 via one extra column)."""
    root = write_npy_dataset(tmp_path / "d", 3, 2, size=(4, 6), n_classes=3)
    train_labels = np.zeros((4, 6), np.int64)
    train_labels[:, :2], train_labels[:, 2:] = 1, 2
    for i in range(3):
        np.save(root / "train" / "label" / f"{i}.npy", train_labels)
    for i in range(2):
        np.save(root / "val" / "label" / f"{i}.npy", train_labels)
    ds = open_dataset(root)
    b = baselines(ds.load("train"), 3, ds.load("val"))
    assert b["pixel prior"].miou == pytest.approx(1.0)  # the prior is exactly the layout
    assert b["majority"].pixel_acc == pytest.approx(4 / 6) and b["majority"].miou == pytest.approx((0 + 4 / 6) / 2)
