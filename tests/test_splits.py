"""The official split file with its real path quirks, and the seeded split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

from fixtures.scenes import write_dataset
from sunprep.cli.app import app
from sunprep.errors import BadInput
from sunprep.export.splits import hashed_split, load_split_file
from sunprep.sunrgbd.sensors import scene_key

KV2 = "kv2/kinect2data/"


def _listed(text: Path) -> set[str]:
    """Scene keys of a `sunrgbd_*_images.txt` list (image paths) restricted to kinect2data."""
    keys = set()
    for line in text.read_text().split():
        scene = line.split("/image/")[0]
        if KV2 in scene:
            keys.add(scene_key(scene))
    return keys


def test_real_allsplit_matches_text_lists_and_counts(shared_data: Path) -> None:
    table = load_split_file(shared_data / "sunrgbd_toolbox/traintestSUNRGBD/allsplit.mat")
    train = {k for k, s in table.by_key.items() if k.startswith(KV2) and s == "train"}
    val = {k for k, s in table.by_key.items() if k.startswith(KV2) and s == "val"}
    assert (len(train), len(val)) == (1774, 1711)
    assert train == _listed(shared_data / "splits/sunrgbd_training_images.txt")
    assert val == _listed(shared_data / "splits/sunrgbd_testing_images.txt")


def test_real_allsplit_finds_local_scene_folders(shared_data: Path, tmp_path: Path) -> None:
    table = load_split_file(shared_data / "sunrgbd_toolbox/traintestSUNRGBD/allsplit.mat")
    root = tmp_path / "elsewhere" / "SUNRGBD" / "kv2" / "kinect2data"
    test_scene = root / "000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize"
    train_scene = root / "000065_2014-05-16_20-14-38_260595134347_rgbf000121-resize"
    for d in (test_scene, train_scene):
        d.mkdir(parents=True)
    assert table.split_of(test_scene) == "val"
    assert table.split_of(train_scene) == "train"
    # Rooted without the sensor folders (a copy of kinect2data alone): matched by folder name.
    lone = tmp_path / "flat" / test_scene.name
    lone.mkdir(parents=True)
    assert table.split_of(lone) == "val"
    assert table.split_of(tmp_path / "flat" / "not_a_listed_scene") is None


def test_prefixes_and_trailing_slashes_are_ignored(tmp_path: Path) -> None:
    cell = np.empty((1, 3), dtype=object)
    cell[0, :] = [
        "/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000001_a-resize/",
        "/data1/SUNRGBD/kv2/kinect2data/000002_b-resize",
        "/data1/SUNRGBD/kv1/NYUdata/NYU0001/",
    ]
    test = np.empty((1, 1), dtype=object)
    test[0, 0] = "/somewhere/else/SUNRGBD/kv2/kinect2data/000003_c-resize//"
    path = tmp_path / "allsplit.mat"
    scipy.io.savemat(path, {"alltrain": cell, "alltest": test})
    table = load_split_file(path)
    assert table.by_key == {
        "kv2/kinect2data/000001_a-resize": "train",
        "kv2/kinect2data/000002_b-resize": "train",
        "kv1/NYUdata/NYU0001": "train",
        "kv2/kinect2data/000003_c-resize": "val",
    }


def test_scene_in_both_lists_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "allsplit.mat"
    both = np.empty((1, 1), dtype=object)
    both[0, 0] = "/a/SUNRGBD/kv2/kinect2data/x/"
    other = np.empty((1, 1), dtype=object)
    other[0, 0] = "/b/SUNRGBD/kv2/kinect2data/x"
    scipy.io.savemat(path, {"alltrain": both, "alltest": other})
    with pytest.raises(BadInput, match="listed in both"):
        load_split_file(path)


def test_not_a_split_file(tmp_path: Path) -> None:
    junk = tmp_path / "allsplit.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(BadInput, match=str(junk)):
        load_split_file(junk)
    wrong = tmp_path / "wrong.mat"
    scipy.io.savemat(wrong, {"something": np.zeros(3)})
    with pytest.raises(BadInput, match="alltrain"):
        load_split_file(wrong)


def test_hashed_split_is_seeded_by_name_only(tmp_path: Path) -> None:
    names = [f"{i:06d}_scene-resize" for i in range(2000)]
    a = [hashed_split(tmp_path / "x" / n, 0.2, seed=7) for n in names]
    b = [hashed_split(Path("/other/root") / n, 0.2, seed=7) for n in names]
    c = [hashed_split(tmp_path / n, 0.2, seed=8) for n in names]
    assert a == b  # the root does not matter
    assert a != c  # the seed does
    assert 0.17 < a.count("val") / len(a) < 0.23
    assert {hashed_split(tmp_path / n, 0.0, 1) for n in names} == {"train"}
    assert {hashed_split(tmp_path / n, 1.0, 1) for n in names} == {"val"}


@pytest.mark.parametrize("fraction, empty", [(0.0, "val"), (1.0, "train")])
def test_an_export_that_leaves_a_split_empty_says_so(tmp_path, fraction, empty) -> None:
    """train silently ran without validation after `--val-fraction 0`."""
    root = tmp_path / "data"
    write_dataset(root, 3, seed=8, size=(12, 16))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", "--root", str(root), "--out", str(out), "--size", "8x8",
                                      "--workers", "1", "--val-fraction", str(fraction), "-q"])
    assert result.exit_code == 0, result.output
    want = f"{out}: no {empty} samples; "
    assert f"warning: {want}" in result.stderr
    (line,) = json.loads((out / "report.json").read_text())["split_warnings"]
    assert line.startswith(want)
