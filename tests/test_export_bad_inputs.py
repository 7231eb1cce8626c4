"""Every bad input of the reader skips its scene with the reader's message; the rest is exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from PIL import Image
from typer.testing import CliRunner

from fixtures.scenes import encode_depth_png, write_dataset, write_seg_mat
from sunprep.cli.app import app
from sunprep.errors import BadInput
from sunprep.export.run import ExportConfig, run_export
from sunprep.sunrgbd.check import ScanConfig, run_scan
from sunprep.sunrgbd.scene import read_scene

SIZE = (24, 33)


def _one(folder: Path, pattern: str) -> Path:
    (found,) = sorted(folder.glob(pattern))
    return found


def several_images(d: Path) -> tuple[Path, str]:
    jpg = _one(d / "image", "*.jpg")
    (d / "image" / "copy.jpg").write_bytes(jpg.read_bytes())
    return d / "image", "JPEG images"


def truncated_jpeg(d: Path) -> tuple[Path, str]:
    jpg = _one(d / "image", "*.jpg")
    jpg.write_bytes(jpg.read_bytes()[: 200])
    return jpg, "not a readable JPEG"


def depth_8bit(d: Path) -> tuple[Path, str]:
    png = _one(d / "depth_bfx", "*.png")
    Image.fromarray(np.zeros(SIZE, np.uint8)).save(png)
    return png, "expected 16-bit"


def depth_other_size(d: Path) -> tuple[Path, str]:
    png = _one(d / "depth_bfx", "*.png")
    encode_depth_png(png, np.full((SIZE[0] + 1, SIZE[1]), 1000, np.uint16))
    return png, f"image is {SIZE[1]}x{SIZE[0]}"


def seg_without_seglabel(d: Path) -> tuple[Path, str]:
    scipy.io.savemat(d / "seg.mat", {"names": np.array([["wall"]], dtype=object)})
    return d / "seg.mat", "no 'seglabel'"


def seglabel_other_size(d: Path) -> tuple[Path, str]:
    write_seg_mat(d / "seg.mat", np.ones((SIZE[0], SIZE[1] + 2), np.uint16), ["wall"])
    return d / "seg.mat", "seglabel is"


def index_beyond_names(d: Path) -> tuple[Path, str]:
    write_seg_mat(d / "seg.mat", np.full(SIZE, 3, np.uint16), ["wall", "floor"])
    return d / "seg.mat", "beyond the 2 names"


def empty_name(d: Path) -> tuple[Path, str]:
    write_seg_mat(d / "seg.mat", np.full(SIZE, 2, np.uint16), ["wall", ""])
    return d / "seg.mat", "is empty"


def not_a_mat_file(d: Path) -> tuple[Path, str]:
    (d / "seg.mat").write_bytes(b"<html>404 not found</html>" * 10)
    return d / "seg.mat", "not a MATLAB"


def malformed_index_json(d: Path) -> tuple[Path, str]:
    (d / "seg.mat").unlink()
    index = d / "annotation2Dfinal" / "index.json"
    index.parent.mkdir(exist_ok=True)
    index.write_text('{"frames": [{"polygon": [')
    return index, "malformed JSON"


BREAKERS: tuple[Callable[[Path], tuple[Path, str]], ...] = (
    several_images,
    truncated_jpeg,
    depth_8bit,
    depth_other_size,
    seg_without_seglabel,
    seglabel_other_size,
    index_beyond_names,
    empty_name,
    not_a_mat_file,
    malformed_index_json,
)


@pytest.fixture()
def broken(tmp_path) -> tuple[Path, dict[str, tuple[Path, str]], list[Path]]:
    """2 good scenes around 10 broken ones (even scenes carry seg.mat, so break only those)."""
    root = tmp_path / "data"
    scenes = write_dataset(root, 2 * len(BREAKERS) + 3, seed=11, size=SIZE)
    seg_scenes = [s for s in scenes if (s / "seg.mat").is_file()]
    good = [seg_scenes[0], seg_scenes[-1]] + [s for s in scenes if s not in seg_scenes]
    expected = {s.name: brk(s) for s, brk in zip(seg_scenes[1:-1], BREAKERS)}
    return root, expected, good


def test_each_bad_input_skips_its_scene_with_its_message(broken, tmp_path) -> None:
    root, expected, good = broken
    report = run_export(ExportConfig(root=root, out=tmp_path / "out", size=(8, 16), workers=2))
    reasons = {Path(s.scene).name: s.reason for s in report.skipped}
    assert set(reasons) == set(expected)
    for name, (path, problem) in expected.items():
        assert reasons[name].startswith(f"{path}: ") and problem in reasons[name], reasons[name]
        with pytest.raises(BadInput) as err:  # the reader's own message, passed through unchanged
            read_scene(root / "SUNRGBD/kv2/kinect2data" / name, root)
        assert str(err.value) == reasons[name]
    exported = set(pd.read_parquet(tmp_path / "out" / "manifest.parquet")["scene"].map(lambda s: Path(s).name))
    assert exported == {s.name for s in good}
    assert sum(report.counts.values()) == len(good)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())["skipped"]
    assert {Path(s["scene"]).name: s["reason"] for s in saved} == reasons


def test_cli_exit_1_names_skipped_scenes_and_strict_exits_2(broken, tmp_path) -> None:
    root, expected, _ = broken
    runner = CliRunner()
    args = ["export", "--root", str(root), "--size", "8x16", "--workers", "1", "--quiet"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert result.exit_code == 1
    for path, _ in expected.values():
        assert f"skipped: {path}: " in result.output
    assert f"error: {tmp_path / 'a'}: {len(expected)} scenes skipped" in result.output
    strict = runner.invoke(app, [*args, "--out", str(tmp_path / "b"), "--strict"])
    assert strict.exit_code == 2
    first = min(expected)  # scenes are exported in sorted order
    assert f"error: {expected[first][0]}: " in strict.output


def test_an_unreadable_file_is_an_expected_one_line_skip(tmp_path, monkeypatch) -> None:
    """A PermissionError (any OSError) while reading a scene is its state, not a bug marker,
    whichever reader meets it: index.json's own, or the input checksum's read of the JPEG."""
    root = tmp_path / "data"
    scenes = write_dataset(root, 4, seed=5, size=SIZE)
    index = scenes[1] / "annotation2Dfinal" / "index.json"
    jpeg = _one(scenes[2] / "image", "*.jpg")
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self in (index, jpeg):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    report = run_export(ExportConfig(root=root, out=tmp_path / "out", size=(8, 16), workers=1))
    assert [(s.reason, s.traceback) for s in report.skipped] == [
        (f"{index}: cannot read (Permission denied)", ""), (f"{jpeg}: cannot read (Permission denied)", "")]
    (check,) = [c for c in run_scan(ScanConfig(root=root)) if c.problems]
    assert check.problems == (f"{index}: cannot read (Permission denied)",) and check.tracebacks == ()
