"""seg.mat (v5 and v7.3) and the toolbox SUNRGBD2Dseg.mat read back exactly what the fixtures wrote."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from fixtures.scenes import cell_array, write_seg_mat
from fixtures.seg2d import Seg2DEntry, write_seg2d, write_seg_mat_v73
from sunprep.errors import BadInput
from sunprep.sunrgbd.mat import open_seg2d, read_order, read_seg_mat
from sunprep.sunrgbd.sensors import scene_key

# Raw names as annotators typed them, plus non-ASCII and quotes: MATLAB chars are UTF-16.
name_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")


@st.composite
def label_maps(draw: st.DrawFn) -> tuple[np.ndarray, list[str]]:
    names = draw(st.lists(name_text, min_size=0, max_size=6))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**16))
    labels = np.random.default_rng(seed).integers(0, len(names) + 1, size=(h, w)).astype(np.uint16)
    return labels, names


def names_per_pixel(labels: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.array(["<unlabeled>", *names], dtype=object)[labels]


@settings(max_examples=25, deadline=None)
@given(label_maps(), st.sampled_from(["row", "col"]), st.sampled_from([np.uint16, np.float64, np.uint8]))
def test_seg_mat_v5_round_trip(case: tuple[np.ndarray, list[str]], layout: str, dtype: type) -> None:
    labels, names = case
    if dtype is np.uint8 and len(names) > 255:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seg.mat"
        write_seg_mat(path, labels, names, layout=layout, dtype=dtype)
        rec = read_seg_mat(path, labels.shape)
    assert rec.labels.dtype == np.uint16
    np.testing.assert_array_equal(rec.labels, labels)
    assert rec.names == tuple(names)
    assert rec.label_source == "seg.mat" and rec.warnings == ()


@settings(max_examples=15, deadline=None)
@given(label_maps(), st.sampled_from([np.uint16, np.float64]))
def test_seg_mat_v73_round_trip(case: tuple[np.ndarray, list[str]], dtype: type) -> None:
    labels, names = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seg.mat"
        write_seg_mat_v73(path, labels, names, dtype=dtype)
        assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
        rec = read_seg_mat(path, labels.shape)
    np.testing.assert_array_equal(rec.labels, labels)
    assert rec.names == tuple(names)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.one_of(label_maps(), st.none()), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_seg2d_round_trip(cases: list[tuple[np.ndarray, list[str]] | None], names_in_file: bool, meta_v73: bool) -> None:
    entries = [
        Seg2DEntry(f"SUNRGBD/kv2/kinect2data/{i:06d}_scene/", None if c is None else c[0], () if c is None else tuple(c[1]))
        for i, c in enumerate(cases)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        seglistall = write_seg2d(Path(tmp), entries, names_in_file=names_in_file, meta_v73=meta_v73)
        assert (Path(tmp) / "seglistall.mat").exists() != names_in_file
        with open_seg2d(Path(tmp) / "SUNRGBD2Dseg.mat") as seg2d:
            assert len(seg2d) == len(entries)
            for i, entry in enumerate(entries):
                rec = seg2d.lookup(f"kv2/kinect2data/{i:06d}_scene")
                if entry.labels is None:
                    assert rec is None  # MATLAB [] for an unannotated image
                    continue
                assert rec is not None and rec.label_source == "SUNRGBD2Dseg.mat"
                # names compacted to those the image uses, in seglistall order
                assert list(rec.names) == [n for n in seglistall if n in set(np.array(entry.names, object)[np.unique(entry.labels[entry.labels > 0]) - 1])]
                np.testing.assert_array_equal(names_per_pixel(rec.labels, rec.names), names_per_pixel(entry.labels, entry.names))


def test_seg2d_lookup_by_any_root(tmp_path: Path) -> None:
    labels = np.array([[1, 0], [2, 2]], np.uint16)
    write_seg2d(tmp_path, [Seg2DEntry("/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/000002_x-resize/", labels, ("wall", "Chair"))])
    with open_seg2d(tmp_path / "SUNRGBD2Dseg.mat") as seg2d:
        for rel in ("SUNRGBD/kv2/kinect2data/000002_x-resize", "kv2/kinect2data/000002_x-resize", "000002_x-resize"):
            rec = seg2d.lookup(rel, (2, 2))
            assert rec is not None and rec.names == ("wall", "Chair")
        assert seg2d.lookup("kv2/kinect2data/000003_y-resize") is None
        with pytest.raises(BadInput, match=r"SUNRGBD2Dseg\.mat\[1\]: seglabel is 2x2, image is 3x2"):
            seg2d.lookup("000002_x-resize", (2, 3))


def test_seg2d_file_is_matlab_layout(tmp_path: Path) -> None:
    labels = np.arange(6, dtype=np.uint16).reshape(2, 3) % 3
    write_seg2d(tmp_path, [Seg2DEntry("SUNRGBD/kv2/kinect2data/a", labels, ("wall", "floor"))])
    with h5py.File(tmp_path / "SUNRGBD2Dseg.mat", "r") as f:
        refs = f["SUNRGBD2Dseg"]["seglabelall"]
        assert refs.shape == (1, 1) and refs.dtype == h5py.ref_dtype
        stored = f[refs[0, 0]]
        assert stored.shape == (3, 2)  # transposed, as MATLAB writes H x W
        assert f["seglistall"].attrs["MATLAB_class"] == b"cell"
        wall = f[f["seglistall"][0, 0]]
        assert wall.attrs["MATLAB_class"] == b"char" and wall[()].ravel().tolist() == [ord(c) for c in "wall"]


def test_order_from_text_list(tmp_path: Path) -> None:
    lst = tmp_path / "order.txt"
    lst.write_text("SUNRGBD/kv2/kinect2data/a/image/0000001.jpg\n\n/data1/SUNRGBD/kv1/b3dodata/img_0063/\n")
    assert read_order(lst) == ["kv2/kinect2data/a", "kv1/b3dodata/img_0063"]
    assert scene_key("C:\\data\\SUNRGBD\\kv2\\kinect2data\\b\\") == "kv2/kinect2data/b"


def test_order_length_must_match(tmp_path: Path) -> None:
    write_seg2d(tmp_path, [Seg2DEntry("SUNRGBD/kv2/kinect2data/a", None, ())])
    with pytest.raises(BadInput, match=r"holds 1 images but the scene order lists 2"):
        open_seg2d(tmp_path / "SUNRGBD2Dseg.mat", ["a", "b"])


def test_seg2d_without_order(tmp_path: Path) -> None:
    write_seg2d(tmp_path, [Seg2DEntry("SUNRGBD/kv2/kinect2data/a", None, ())])
    (tmp_path / "SUNRGBDMeta.mat").unlink()
    with pytest.raises(BadInput, match=r"SUNRGBD2Dseg\.mat: no scene order given and no SUNRGBDMeta\.mat beside it"):
        open_seg2d(tmp_path / "SUNRGBD2Dseg.mat")


# --- bad input: one line naming the file and the problem ---------------------------------------


def numeric_cell() -> np.ndarray:
    """A 1x1 cell holding the number 3 instead of a string."""
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.array([[3.0]])
    return cell


def _save(path: Path, **variables: object) -> Path:
    savemat(path, variables, format="5")
    return path


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"names": cell_array(["wall"])}, r"seg\.mat: no 'seglabel' variable"),
        ({"seglabel": np.ones((2, 2))}, r"seg\.mat: no 'names' variable"),
        ({"seglabel": np.ones((3, 2)), "names": cell_array(["wall"])}, r"seg\.mat: seglabel is 2x3, image is 2x2"),
        ({"seglabel": np.full((2, 2), 3), "names": cell_array(["wall", "floor"])}, r"seg\.mat: label index 3 beyond the 2 names"),
        ({"seglabel": np.full((2, 2), 0.5), "names": cell_array(["wall"])}, r"seg\.mat: seglabel holds non-integer values"),
        ({"seglabel": np.full((2, 2), -1), "names": cell_array(["wall"])}, r"seg\.mat: seglabel holds negative values"),
        ({"seglabel": np.ones((2, 2)), "names": cell_array([""])}, r"seg\.mat: name 1 is empty but labels pixels"),
        ({"seglabel": np.ones((2, 2)), "names": numeric_cell()}, r"seg\.mat: name 1 is not a string but labels pixels"),
        ({"seglabel": np.ones((2, 2)), "names": np.array([[1.0, 2.0]])}, r"seg\.mat: names is not a cell array of strings"),
    ],
)
def test_seg_mat_bad_input(tmp_path: Path, variables: dict[str, object], message: str) -> None:
    path = _save(tmp_path / "seg.mat", **variables)
    with pytest.raises(BadInput, match=message) as err:
        read_seg_mat(path, (2, 2))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))


def test_unused_empty_name_is_a_warning(tmp_path: Path) -> None:
    path = _save(tmp_path / "seg.mat", seglabel=np.ones((2, 2), np.uint16), names=cell_array(["wall", ""]))
    rec = read_seg_mat(path, (2, 2))
    assert rec.names == ("wall", "") and rec.warnings == (f"{path}: 1 unused empty or non-string name(s)",)


@pytest.mark.parametrize("content", [b"", b"not a mat file at all", b"MATLAB 5.0 MAT-file".ljust(126) + b"IM" + b"\xff" * 64])
def test_corrupt_or_non_mat_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "seg.mat"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=r"seg\.mat: (not a MATLAB v5 MAT-file|not a readable MATLAB file)"):
        read_seg_mat(path, (2, 2))


def test_truncated_mat_file(tmp_path: Path) -> None:
    path = tmp_path / "seg.mat"
    write_seg_mat(path, np.random.default_rng(0).integers(0, 3, (40, 40)), ["wall", "floor"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match=r"seg\.mat: (not a readable MATLAB file|no 'seglabel' variable)"):
        read_seg_mat(path, (40, 40))
