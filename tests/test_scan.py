"""`sunprep scan`: the table, --json, every problem listed, exit codes, and nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.scenes import write_dataset
from sunprep.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "example"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_scan_bundled_example() -> None:
    before = _snapshot(EXAMPLE)
    result = CliRunner().invoke(app, ["scan", str(EXAMPLE), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "6 scenes, 0 with problems" in result.output
    assert "label sources: annotation2Dfinal/index.json 3, seg.mat 3" in result.output
    assert "sizes: 146x106 6" in result.output
    assert "4 warnings in 3 scenes (--warnings lists them)" in result.output
    assert "repaired malformed JSON" not in result.output
    listed = CliRunner().invoke(app, ["scan", str(EXAMPLE), "--quiet", "--warnings"])
    assert listed.exit_code == 0 and listed.stdout.count("warning: ") == 4
    assert "index.json: repaired malformed JSON (unescaped quotes in an object name)" in listed.stdout
    assert _snapshot(EXAMPLE) == before  # writes nothing


@pytest.fixture()
def broken_tree(tmp_path: Path) -> Path:
    scenes = write_dataset(tmp_path, 4, seed=5, size=(16, 20))
    for p in (scenes[0] / "image").glob("*.jpg"):
        p.unlink()  # no image ...
    (scenes[0] / "intrinsics.txt").write_text("x")  # ... and bad intrinsics: both must be listed
    depth = next((scenes[2] / "depth_bfx").glob("*.png"))
    Image.fromarray(np.zeros((16, 20), np.uint8)).save(depth)
    (scenes[1] / "annotation2Dfinal" / "index.json").write_text("{")
    return tmp_path


def test_scan_lists_every_problem_and_carries_on(broken_tree: Path) -> None:
    result = CliRunner().invoke(app, ["scan", str(broken_tree), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["summary"]["scenes"] == 4 and doc["summary"]["with_problems"] == 3
    problems = [s["problems"] for s in doc["scenes"]]
    assert len(problems[0]) == 2
    assert problems[0][0].endswith("/image: no JPEG image")
    assert problems[0][1].endswith("/intrinsics.txt: not a whitespace-separated matrix (could not convert string to float: 'x')")
    assert problems[1][0].endswith("annotation2Dfinal/index.json: malformed JSON (Expecting property name enclosed in double quotes at line 1 column 2)")
    assert problems[2] == [f"{next((Path(broken_tree) / doc['scenes'][2]['rel_path'] / 'depth_bfx').glob('*.png'))}: depth PNG is mode L, expected 16-bit single channel"]
    assert problems[3] == [] and doc["scenes"][3]["label_source"] == "annotation2Dfinal/index.json"
    # scene 0 has no image, yet its size and labels still come from the depth PNG
    assert doc["scenes"][0]["label_source"] == "seg.mat"
    assert "error: " in result.stderr and "3 of 4 scenes have problems" in result.stderr


def test_scan_table_names_problems(broken_tree: Path) -> None:
    result = CliRunner().invoke(app, ["scan", str(broken_tree), "-q"])
    assert result.exit_code == 1
    assert result.stdout.count("problem: ") == 4
    assert "4 scenes, 3 with problems" in result.stdout


def test_scan_raw_depth_skips_broken_refined(broken_tree: Path) -> None:
    doc = json.loads(CliRunner().invoke(app, ["scan", str(broken_tree), "--json", "--depth", "raw"]).stdout)
    assert doc["scenes"][2]["problems"] == [] and doc["scenes"][2]["depth_source"] == "depth"


def test_scan_nothing_found(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path}: no scene folders (a scene folder holds image/<name>.jpg)"


def test_scan_with_seg2d(tmp_path: Path) -> None:
    from fixtures.seg2d import Seg2DEntry, write_seg2d

    shutil.copytree(EXAMPLE / "SUNRGBD", tmp_path / "SUNRGBD")
    scenes = sorted((tmp_path / "SUNRGBD" / "kv2" / "kinect2data").iterdir())
    # the toolbox file covers the first four scenes: it beats index.json, not seg.mat
    write_seg2d(
        tmp_path / "Metadata",
        [Seg2DEntry(f"SUNRGBD/kv2/kinect2data/{p.name}", np.ones((106, 146), np.uint16), ("wall",)) for p in scenes[:4]],
    )
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--json", "--seg2d", str(tmp_path / "Metadata" / "SUNRGBD2Dseg.mat")])
    assert result.exit_code == 0, result.output
    sources = [s["label_source"] for s in json.loads(result.stdout)["scenes"]]
    assert sources == ["seg.mat", "SUNRGBD2Dseg.mat", "seg.mat", "SUNRGBD2Dseg.mat", "seg.mat", "annotation2Dfinal/index.json"]


def test_scan_rejects_unknown_depth() -> None:
    result = CliRunner().invoke(app, ["scan", str(EXAMPLE), "--depth", "bfx"])
    assert result.exit_code == 2 and "bfx" in result.output
