"""Each damage seen in the field is an expected BadInput naming the file (or an exact result).

The cases of issue 13: h5py errors of a damaged v7.3 seg.mat, `seglabel` stored as a group,
index.json nested 100,000 deep, coordinates of hundreds of digits, more than 65,535 names,
invalid UTF-8, and FIFOs where files should be (which must not hang).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from fixtures.deadline import deadline
from fixtures.scenes import Box, write_index_json, write_scene
from fixtures.seg2d import write_seg_mat_v73
from sunprep.errors import BadInput
from sunprep.export.splits import load_split_file
from sunprep.sunrgbd.annotation import read_index_json
from sunprep.sunrgbd.check import check_scene
from sunprep.sunrgbd.mat import read_order, read_seg_mat
from sunprep.sunrgbd.scene import read_scene

SIZE = (12, 16)


def v73(path: Path) -> Path:
    write_seg_mat_v73(path, np.ones(SIZE, np.uint16), ["wall"])
    return path


def hdf5_signature_then_garbage(tmp: Path) -> Path:
    path = v73(tmp / "seg.mat")
    data = path.read_bytes()
    path.write_bytes(data[:520] + bytes(range(256)) * 8)  # user block + HDF5 signature, then noise
    return path


def truncated_hdf5(tmp: Path) -> Path:
    path = v73(tmp / "seg.mat")
    path.write_bytes(path.read_bytes()[:1200])
    return path


def seglabel_group(tmp: Path) -> Path:
    path = tmp / "seg.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_group("seglabel").create_dataset("x", data=np.ones(3))
        f.create_dataset("names", data=np.zeros(1))
    return path


def names_group(tmp: Path) -> Path:
    path = tmp / "seg.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("seglabel", data=np.ones(SIZE[::-1]))
        f.create_group("names")
    return path


@pytest.mark.parametrize("damage", [hdf5_signature_then_garbage, truncated_hdf5, seglabel_group, names_group])
def test_damaged_v73_seg_mat_is_one_line(tmp_path, damage: Callable[[Path], Path]) -> None:
    path = damage(tmp_path)
    with pytest.raises(BadInput) as err:
        read_seg_mat(path, SIZE)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_more_than_65535_names_keeps_labels_exact(tmp_path) -> None:
    n = 70_000
    names = [f"n{i}" for i in range(n)]
    labels = np.zeros(SIZE, np.uint32)
    labels[0, :4] = [1, 65_536, 65_537, n]  # 65,536 would wrap to 0 (unlabeled) in uint16, 65,537 to 1
    write_seg_mat_v73(tmp_path / "seg.mat", labels, names, dtype=np.uint32)
    rec = read_seg_mat(tmp_path / "seg.mat", SIZE)
    got = [rec.names[k - 1] if k else None for k in rec.labels[0, :5]]
    assert got == ["n0", "n65535", "n65536", f"n{n - 1}", None]
    assert "renumbered" in rec.warnings[-1]


def _index(tmp: Path, text: str | bytes) -> Path:
    path = tmp / "annotation2Dfinal" / "index.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_index_json_nested_100000_deep_is_one_line(tmp_path) -> None:
    path = _index(tmp_path, '{"objects": ' + "[" * 100_000 + "]" * 100_000 + ', "frames": []}')
    with pytest.raises(BadInput, match="nested too deeply") as err:
        read_index_json(path, SIZE, "annotation2Dfinal/index.json")
    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize("digits", [400, 5000])  # past float range; past Python's 4,300-digit int limit
def test_coordinate_of_hundreds_of_digits(tmp_path, digits: int) -> None:
    big = "9" * digits
    doc = '{"objects": [{"name": "wall"}], "frames": [{"polygon": [{"object": 0, "x": [0, %s, 5], "y": [0, 0, 5]}, {"object": 0, "x": [0, 3, 3], "y": [0, 0, 3]}]}]}'
    path = _index(tmp_path, doc % big)
    try:
        rec = read_index_json(path, SIZE, "annotation2Dfinal/index.json")
    except BadInput as err:  # 5,000 digits: Python refuses to parse the integer at all
        assert str(err).startswith(f"{path}: ") and digits > 4300
        return
    assert rec.names == ("wall",) and rec.labels[1, 2] == 1  # the sane polygon is kept ...
    assert any("skipped 1" in w for w in rec.warnings)  # ... the absurd one is a warning


def test_invalid_utf8_name_is_a_warning_naming_the_file(tmp_path) -> None:
    write_index_json(tmp_path / "annotation2Dfinal" / "index.json", ["cafe table"], [Box(0, 0, 0, 5, 5)])
    path = tmp_path / "annotation2Dfinal" / "index.json"
    path.write_bytes(path.read_bytes().replace(b"cafe", b"caf\xe9"))  # Latin-1, not UTF-8
    rec = read_index_json(path, SIZE, "annotation2Dfinal/index.json")
    assert rec.names == ("caf\ufffd table",)
    assert any(w.startswith(f"{path}: not valid UTF-8") for w in rec.warnings)


@pytest.mark.parametrize("part", ["image", "depth_bfx", "seg.mat", "intrinsics.txt", "scene.txt"])
def test_fifo_where_a_file_should_be_does_not_hang(tmp_path, part: str) -> None:
    scene = tmp_path / "scene"
    write_scene(scene, seed=1, size=SIZE)
    (target,) = [p for p in [scene / part] if p.is_file()] or sorted((scene / part).glob("*"))
    target.unlink()
    os.mkfifo(target)
    with deadline():
        check = check_scene(scene, tmp_path)
        with pytest.raises(BadInput) as err:
            read_scene(scene, tmp_path)
    assert f"{target}: a FIFO, not a regular file" in check.problems
    assert str(err.value) == f"{target}: a FIFO, not a regular file"


def test_fifo_as_split_file_or_scene_order_is_one_line(tmp_path) -> None:
    fifo = tmp_path / "allsplit.mat"
    os.mkfifo(fifo)
    with deadline(), pytest.raises(BadInput, match="a FIFO, not a regular file"):
        load_split_file(fifo)
    with deadline(), pytest.raises(BadInput, match="a FIFO, not a regular file"):
        read_order(fifo)


@pytest.mark.parametrize("content", [b"", b"kv2/kinect2data/a\nkv2/kinect2data/b\n", "v73"])
def test_split_file_text_empty_or_v73_is_one_line(tmp_path, content) -> None:
    path = tmp_path / "allsplit.mat"
    if content == "v73":
        v73(path)
    else:
        path.write_bytes(content)
    with pytest.raises(BadInput) as err:
        load_split_file(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\x00" * 300, b"MATLAB 5.0 MAT-file" + b"\x00" * 107 + b"\x00\x01IM" + b"\xff" * 64, "v73-garbage", "json"])
def test_garbage_scene_order_is_one_line(tmp_path, content) -> None:
    path = tmp_path / "SUNRGBDMeta.mat"
    if content == "v73-garbage":
        hdf5_signature_then_garbage(tmp_path).rename(path)
    elif content == "json":
        path.write_text(json.dumps({"x": 1}))
    else:
        path.write_bytes(content)
    with pytest.raises(BadInput) as err:
        read_order(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
