"""Fuzzing every reader with damaged real-format files.

Each reader gets a file written in its real format by `fixtures/`, then corrupted by hypothesis
(bytes flipped, truncated, a chunk spliced in or doubled, brackets nested, a number blown up to
hundreds of digits). Whatever the damage, the reader must either return a valid record or raise
the project's error naming the file: never another exception, and never hang (an alarm bounds
each example). Examples are few and derandomised, so CI stays fast and repeatable.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.archive import allsplit_mat
from fixtures.deadline import deadline
from fixtures.scenes import Box, encode_depth_png, write_index_json, write_jpeg, write_seg_mat
from fixtures.seg2d import Seg2DEntry, write_seg2d, write_seg_mat_v73
from sunprep.errors import BadInput, MappingError
from sunprep.export.splits import load_split_file
from sunprep.labels.classes import load_classes
from sunprep.labels.tables import read_mapping
from sunprep.sunrgbd.annotation import read_index_json
from sunprep.sunrgbd.depth import read_depth_png
from sunprep.sunrgbd.mat import open_seg2d, read_seg_mat
from sunprep.sunrgbd.scene import read_rgb

SIZE = (12, 16)
SECONDS = 10  # per example; a healthy reader needs milliseconds
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- damage -------------------------------------------------------------------------------------


def flip(data: bytes, pos: int, value: int) -> bytes:
    i = pos % max(len(data), 1)
    return data[:i] + bytes([value]) + data[i + 1 :]


def truncate(data: bytes, pos: int, _value: int) -> bytes:
    return data[: pos % max(len(data), 1)]


def splice(data: bytes, pos: int, value: int) -> bytes:
    i = pos % max(len(data), 1)
    return data[:i] + bytes(range(value % 64, value % 64 + 64)) * 4 + data[i:]


def double(data: bytes, pos: int, value: int) -> bytes:
    i = pos % max(len(data), 1)
    return data[:i] + data[i : i + 64 + value] * 3 + data[i:]


def nest(data: bytes, pos: int, value: int) -> bytes:
    """Deep brackets where a value starts (JSON), or just inserted (binary)."""
    i = data.find(b":", pos % max(len(data), 1)) + 1
    depth = 2000 + 200 * value
    return data[:i] + b"[" * depth + b"0" + b"]" * depth + data[i:] if i else data + b"[" * depth


def huge_number(data: bytes, pos: int, value: int) -> bytes:
    """A run of digits replaced by hundreds (or thousands) of them."""
    runs = list(re.finditer(rb"\d+", data))
    if not runs:
        return data + b"9" * 500
    m = runs[pos % len(runs)]
    return data[: m.start()] + b"9" * (300 + 20 * value) + data[m.end() :]


DAMAGE = st.tuples(
    st.sampled_from([flip, truncate, splice, double, nest, huge_number]),
    st.integers(0, 2**20),
    st.integers(0, 255),
)


def damaged(data: bytes, steps: list[tuple[Callable[[bytes, int, int], bytes], int, int]]) -> bytes:
    for fn, pos, value in steps:
        data = fn(data, pos, value)
    return data


# --- the readers on their real formats -----------------------------------------------------------


def _labels_ok(rec) -> None:
    assert rec.labels.shape == SIZE and rec.labels.dtype == np.uint16
    assert int(rec.labels.max(initial=0)) <= len(rec.names)


def _read_seg(path: Path) -> None:
    _labels_ok(read_seg_mat(path, SIZE))


def _read_index(path: Path) -> None:
    _labels_ok(read_index_json(path, SIZE, "annotation2Dfinal/index.json"))


def _read_depth(path: Path) -> None:
    d = read_depth_png(path, SIZE)
    assert d.shape == SIZE and d.dtype == np.float32 and np.isfinite(d).all()


def _read_jpeg(path: Path) -> None:
    rgb = read_rgb(path)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


def _read_split(path: Path) -> None:
    table = load_split_file(path)
    assert set(table.by_key.values()) <= {"train", "val"}


def _read_mapping(path: Path) -> None:
    read_mapping(path, load_classes())


def _read_seg2d(path: Path) -> None:
    with open_seg2d(path, path.with_name("order.txt")) as seg2d:
        rec = seg2d.lookup("kv2/kinect2data/a", SIZE)
    if rec is not None:
        _labels_ok(rec)


def _base_seg_v5(folder: Path) -> bytes:
    labels = np.zeros(SIZE, np.uint16)
    labels[2:6, 3:9], labels[7:, :] = 1, 2
    write_seg_mat(folder / "seg.mat", labels, ["wall", "floor"])
    return (folder / "seg.mat").read_bytes()


def _base_seg_v73(folder: Path) -> bytes:
    labels = np.ones(SIZE, np.uint16)
    labels[5:, 4:] = 2
    write_seg_mat_v73(folder / "seg.mat", labels, ["wall", "chair"])
    return (folder / "seg.mat").read_bytes()


def _base_seg2d(folder: Path) -> bytes:
    labels = np.ones(SIZE, np.uint16)
    write_seg2d(folder, [Seg2DEntry("SUNRGBD/kv2/kinect2data/a", labels, ("wall",))])
    (folder / "order.txt").write_text("kv2/kinect2data/a\n")
    return (folder / "SUNRGBD2Dseg.mat").read_bytes()


def _base_index(folder: Path) -> bytes:
    path = folder / "index.json"
    write_index_json(path, ["wall", "bed"], [Box(0, 0, 0, 15, 11), Box(1, 3, 2, 9, 8)])
    return path.read_bytes()


def _base_depth(folder: Path) -> bytes:
    encode_depth_png(folder / "d.png", np.arange(SIZE[0] * SIZE[1], dtype=np.uint16).reshape(SIZE) * 37)
    return (folder / "d.png").read_bytes()


def _base_jpeg(folder: Path) -> bytes:
    write_jpeg(folder / "i.jpg", np.random.default_rng(0).integers(0, 255, (*SIZE, 3), dtype=np.uint8))
    return (folder / "i.jpg").read_bytes()


def _base_split(_folder: Path) -> bytes:
    return allsplit_mat([f"kv2/kinect2data/{i:06d}_scene" for i in range(6)])


def _base_seglist(_folder: Path) -> bytes:
    text = io.StringIO()
    text.write("original_labels,clean_label,number of images,seg37list index,seg37list label\r\n")
    text.write("wall,wall,120,1,wall\r\nfloor,floor,80,2,floor\r\nbed sheet,bed,7,4,bed\r\n")
    return b"\xef\xbb\xbf" + text.getvalue().encode()


def _base_simple(_folder: Path) -> bytes:
    return b"raw_label,class\nsofa chair,chair\ntelly,tv\n"


READERS = {
    "seg.mat v5": ("seg.mat", _base_seg_v5, _read_seg, BadInput),
    "seg.mat v7.3": ("seg.mat", _base_seg_v73, _read_seg, BadInput),
    "SUNRGBD2Dseg.mat": ("SUNRGBD2Dseg.mat", _base_seg2d, _read_seg2d, BadInput),
    "index.json": ("index.json", _base_index, _read_index, BadInput),
    "depth PNG": ("d.png", _base_depth, _read_depth, BadInput),
    "JPEG": ("i.jpg", _base_jpeg, _read_jpeg, BadInput),
    "allsplit.mat": ("allsplit.mat", _base_split, _read_split, BadInput),
    "seglistall CSV": ("seglistall.csv", _base_seglist, _read_mapping, MappingError),
    "mapping CSV": ("mine.csv", _base_simple, _read_mapping, MappingError),
}


@pytest.mark.parametrize("kind", list(READERS))
def test_reader_survives_damage(kind: str, tmp_path_factory) -> None:
    name, base, read, error = READERS[kind]
    folder = tmp_path_factory.mktemp("fuzz")
    original = base(folder)
    path = folder / name
    path.write_bytes(original)
    read(path)  # the undamaged file reads: the fuzzing starts from a valid record

    @FUZZ
    @given(steps=st.lists(DAMAGE, min_size=1, max_size=3))
    def check(steps) -> None:
        path.write_bytes(damaged(original, steps))
        with deadline(SECONDS):
            try:
                read(path)
            except error as err:
                assert str(err).startswith(f"{path}"), str(err)
                assert "\n" not in str(err)

    check()
