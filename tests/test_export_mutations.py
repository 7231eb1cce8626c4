"""Behaviours a deliberate break once survived the suite: each test here fails when its one breaks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sunprep.export.sources as sources
from fixtures.scenes import write_dataset
from sunprep.errors import BadInput
from sunprep.export.run import ExportConfig, Hooks, run_export
from sunprep.labels.classes import VOID


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, 6, seed=8, size=(24, 33))  # 33:24 is narrower than 16:8, so pad adds columns
    return root


def test_pad_fills_labels_with_void_image_and_depth_with_zero(data, tmp_path) -> None:
    out = tmp_path / "out"
    run_export(ExportConfig(root=data, out=out, size=(8, 16), fit="pad", workers=1))
    labels = sorted((out / "train" / "label").glob("*.npy"))
    assert labels
    for f in labels:
        label = np.load(f)
        image = np.load(f.parent.parent / "image" / f.name)
        depth = np.load(f.parent.parent / "depth" / f.name)
        border = np.r_[0, 1, 14, 15]  # 24x33 scaled to 8x11 sits in columns 2..12
        assert (label[:, border] == VOID).all()
        assert (image[:, border] == 0).all() and (depth[:, border] == 0).all()
        assert (label[:, 3:12] != VOID).any()  # the scene itself is labelled


def test_other_settings_are_refused_over_a_journal_and_a_manifest(data, tmp_path) -> None:
    out = tmp_path / "out"

    class Stop(Exception):
        pass

    def stop_after_three():
        n = {"steps": 0}

        def step() -> None:
            n["steps"] += 1
            if n["steps"] == 3:
                raise Stop

        return step

    with pytest.raises(Stop):
        run_export(ExportConfig(root=data, out=out, size=(8, 16), workers=1), Hooks(step=stop_after_three()))
    assert (out / ".export-journal.jsonl").is_file()
    with pytest.raises(BadInput, match="made with other export settings"):
        run_export(ExportConfig(root=data, out=out, size=(8, 8), workers=1))
    run_export(ExportConfig(root=data, out=out, size=(8, 16), workers=1))  # the same settings resume
    with pytest.raises(BadInput, match="made with other export settings"):
        run_export(ExportConfig(root=data, out=out, size=(8, 16), seed=1, workers=1))


def test_results_are_placed_in_scene_order_when_the_first_finishes_last(data, tmp_path, monkeypatch) -> None:
    first = sorted(data.rglob("image"))[0].parent.name
    real = sources.SunrgbdJob.load

    def slow_first(self, *args, **kwargs):
        if self.scene_dir.name == first:
            time.sleep(1.0)  # every other scene completes before this one
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sources.SunrgbdJob, "load", slow_first)
    run_export(ExportConfig(root=data, out=tmp_path / "two", size=(8, 16), workers=2))
    run_export(ExportConfig(root=data, out=tmp_path / "one", size=(8, 16), workers=1))
    a = pd.read_parquet(tmp_path / "one" / "manifest.parquet")[["split", "index", "scene"]]
    b = pd.read_parquet(tmp_path / "two" / "manifest.parquet")[["split", "index", "scene"]]
    assert a.equals(b)
