"""Scenes without any annotation: scan flags them, export leaves them out (said, listed, exit 0)
unless --keep-unlabeled, which writes them as all-void samples as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fixtures.scenes import kv2_scene_name, write_dataset, write_scene
from sunprep.cli.app import app
from sunprep.export.run import ExportConfig, run_export

SIZE = (24, 32)
KV2 = ("SUNRGBD", "kv2", "kinect2data")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Four annotated scenes, one without any annotation, one whose index.json has no polygon."""
    root = tmp_path_factory.mktemp("unlabeled")
    write_dataset(root, 4, seed=5, size=SIZE)
    rng = np.random.default_rng(9)
    bare = root.joinpath(*KV2, kv2_scene_name(90, rng))
    empty = root.joinpath(*KV2, kv2_scene_name(91, rng))
    write_scene(bare, seed=90, size=SIZE, label_source="none")
    write_scene(empty, seed=91, size=SIZE, label_source="index.json", names=[])
    return {"root": root, "bare": bare.relative_to(root).as_posix(), "empty": empty.relative_to(root).as_posix()}


def test_scan_flags_scenes_without_a_labelled_pixel(tree: dict) -> None:
    result = CliRunner().invoke(app, ["scan", str(tree["root"]), "--json"])
    assert result.exit_code == 0, result.output  # not a problem: the scene reads
    doc = json.loads(result.stdout)
    flagged = {s["rel_path"].split("SUNRGBD/")[-1] for s in doc["scenes"] if s["unlabeled"]}
    assert flagged == {tree["bare"].split("SUNRGBD/")[-1], tree["empty"].split("SUNRGBD/")[-1]}
    assert doc["summary"]["unlabeled"] == 2 and doc["summary"]["with_problems"] == 0
    table = CliRunner().invoke(app, ["scan", str(tree["root"]), "-q"], env={"COLUMNS": "250"})
    bare_row = next(line for line in table.stdout.splitlines() if Path(tree["bare"]).name in line)
    assert "unlabeled" in bare_row and "status" in table.stdout
    assert "2 scenes without annotation (status unlabeled): export leaves them out unless --keep-unlabeled" in table.stdout


def test_export_leaves_them_out_with_the_reason_and_keeps_them_on_request(tree: dict, tmp_path: Path) -> None:
    report = run_export(ExportConfig(root=tree["root"], out=tmp_path / "out", size=(8, 16), workers=1))
    assert sum(report.counts.values()) == 4
    left = {s.scene: s for s in report.skipped}
    assert set(left) == {tree["bare"], tree["empty"]} and all(s.unlabeled for s in left.values())
    assert "no annotation (no seg.mat, index.json or --seg2d labels)" in left[tree["bare"]].reason
    assert "its annotation2Dfinal/index.json labels no pixel" in left[tree["empty"]].reason
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["left_out_unlabeled"] == 2 and sorted(s["scene"] for s in doc["skipped"]) == sorted(left)
    assert doc["settings"]["keep_unlabeled"] is False

    kept = run_export(ExportConfig(root=tree["root"], out=tmp_path / "kept", size=(8, 16), workers=1, keep_unlabeled=True))
    assert sum(kept.counts.values()) == 6 and kept.skipped == ()
    manifest = pd.read_parquet(tmp_path / "kept" / "manifest.parquet").set_index("scene")
    label = np.load(tmp_path / "kept" / manifest.loc[tree["bare"], "files"][1])
    assert (label == -1).all()  # all void, as --keep-unlabeled promises
    # keep_unlabeled=True is left out of the settings: exports begun before the option (which kept them) resume
    assert "keep_unlabeled" not in json.loads((tmp_path / "kept" / "report.json").read_text())["settings"]


def test_export_cli_says_so_and_exits_0_and_strict_does_not_stop(tree: dict, tmp_path: Path) -> None:
    args = ["export", "--root", str(tree["root"]), "--size", "8x16", "-j", "1", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a"), "--strict"])
    assert result.exit_code == 0, result.output
    assert "2 scenes without annotation left out (listed in report.json; --keep-unlabeled exports them" in result.stdout
    assert "skipped:" not in result.output  # one summary line, not one per scene
    kept = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b"), "--keep-unlabeled"])
    assert kept.exit_code == 0 and "without annotation" not in kept.output


def test_export_of_nothing_but_unlabeled_scenes_is_bad_input(tmp_path: Path) -> None:
    write_scene(tmp_path / "data" / "only", seed=1, size=SIZE, label_source="none")
    result = CliRunner().invoke(app, ["export", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "o"), "--size", "8x16", "-q"])
    assert result.exit_code == 2 and "no scene has annotation; --keep-unlabeled" in result.output
