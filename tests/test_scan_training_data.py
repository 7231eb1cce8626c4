"""`sunprep scan` on a training-data folder: validated with the reader `train` uses."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset, write_parquet_dataset
from sunprep.cli import app
from sunprep.train.validate import check_dataset, is_training_layout

runner = CliRunner()


def test_export_layout_is_validated_and_summarised(tmp_path) -> None:
    root = write_npy_dataset(tmp_path / "npy", 6, 3, seed=2, n_classes=5)
    labels = np.stack([np.load(root / "train" / "label" / f"{i}.npy") for i in range(6)])
    check = check_dataset(root)
    train = {s.split: s for s in check.splits}["train"]
    assert (check.layout, check.n_classes, train.samples, train.size) == ("cityscapes", 5, 6, "32x64")
    assert train.classes_present == len(set(np.unique(labels)) - {-1})
    assert np.isclose(train.void_share, (labels == -1).mean())
    result = runner.invoke(app, ["scan", str(root), "--json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["samples"] for s in doc["splits"]] == [6, 3] and doc["layout"] == "cityscapes"


def test_public_release_without_classes_assumes_cityscapes_19(tmp_path) -> None:
    root = write_npy_dataset(tmp_path / "release", 2, 1, n_classes=19, with_classes=False, with_manifest=False)
    result = runner.invoke(app, ["scan", str(root), "-q"])
    assert result.exit_code == 0, result.output
    assert "19 classes" in result.stdout and "assumed" in result.stdout


def test_bad_labels_and_missing_depth_are_problems(tmp_path) -> None:
    root = write_npy_dataset(tmp_path / "bad", 4, 2, n_classes=5)
    lab = np.load(root / "val" / "label" / "1.npy")
    lab[0, 0] = 7
    np.save(root / "val" / "label" / "1.npy", lab)
    (root / "train" / "depth" / "2.npy").unlink()
    result = runner.invoke(app, ["scan", str(root), "-q"])
    assert result.exit_code == 1
    assert f"{root / 'val' / 'label' / '1.npy'}: label value 7 outside 0..4" in result.output
    assert f"{root / 'train' / 'depth' / '2.npy'}: missing" in result.output


def test_parquet_layout_is_recognised_and_a_scene_tree_is_not(tmp_path) -> None:
    assert is_training_layout(write_parquet_dataset(tmp_path / "pq", 2, 1))
    assert not is_training_layout(tmp_path / "nothing-here")
