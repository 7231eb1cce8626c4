"""read_scene / read_labels on fixture scenes (round trip), bad scene folders, and the real scenes."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fixtures.names import RAW_NAMES
from fixtures.scenes import write_dataset, write_scene
from fixtures.seg2d import Seg2DEntry, write_seg2d
from sunprep.errors import BadInput
from sunprep.export.run import ExportConfig, run_export
from sunprep.sunrgbd.check import ScanConfig, run_scan
from sunprep.sunrgbd.mat import open_seg2d
from sunprep.sunrgbd.scene import read_labels, read_scene

SMALL = (24, 33)


@pytest.mark.parametrize("label_source", ["seg.mat", "index.json", "none"])
def test_round_trip(tmp_path: Path, label_source: str) -> None:
    scene_dir = tmp_path / "kv2" / "kinect2data" / "000007_2014-05-26_14-23-37_260595134347_rgbf000103-resize"
    truth = write_scene(scene_dir, seed=7, size=SMALL, label_source=label_source, scene_type="office")
    scene = read_scene(scene_dir, tmp_path)
    assert scene.rel_path == "kv2/kinect2data/000007_2014-05-26_14-23-37_260595134347_rgbf000103-resize"
    assert (scene_dir / "image" / "0000103.jpg").is_file()
    np.testing.assert_array_equal(scene.rgb, truth.rgb)
    np.testing.assert_array_equal(scene.depth, truth.depth)
    np.testing.assert_array_equal(scene.labels, truth.labels)
    assert scene.labels.dtype == np.uint16 and scene.depth.dtype == np.float32 and scene.rgb.dtype == np.uint8
    assert scene.names == truth.names and scene.label_source == truth.label_source
    assert scene.scene_type == "office" and scene.depth_source == "depth_bfx"
    np.testing.assert_allclose(scene.intrinsics, truth.intrinsics, atol=1e-6)
    np.testing.assert_array_equal(scene.extrinsics, truth.extrinsics)  # the later of the two files
    assert scene.depth.max() == 8.0  # the fixture's far wall lies beyond the cap

    labels = read_labels(scene_dir, tmp_path)
    np.testing.assert_array_equal(labels.labels, truth.labels)
    assert labels.names == truth.names and labels.label_source == truth.label_source


@settings(max_examples=10, deadline=None)
@given(
    h=st.integers(4, 40),
    w=st.integers(4, 40),
    label_source=st.sampled_from(["seg.mat", "index.json"]),
    names=st.lists(st.sampled_from([r.raw_label for r in RAW_NAMES]), min_size=1, max_size=8, unique=True),
    seed=st.integers(0, 1000),
)
def test_round_trip_any_size_and_names(h: int, w: int, label_source: str, names: list[str], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        truth = write_scene(Path(tmp) / "s", seed=seed, size=(h, w), label_source=label_source, names=names)
        scene = read_scene(Path(tmp) / "s", Path(tmp))
    assert scene.rgb.shape == (h, w, 3) and scene.names == tuple(names)
    np.testing.assert_array_equal(scene.labels, truth.labels)
    np.testing.assert_array_equal(scene.depth, truth.depth)


def test_raw_depth_on_request(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=1, size=SMALL)
    scene = read_scene(tmp_path / "s", tmp_path, depth="raw")
    assert scene.depth_source == "depth"
    np.testing.assert_array_equal(scene.depth, truth.depth_raw)
    assert (scene.depth == 0).any()


def test_refined_falls_back_to_raw(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=1, size=SMALL)
    shutil.rmtree(tmp_path / "s" / "depth_bfx")
    scene = read_scene(tmp_path / "s", tmp_path)
    assert scene.depth_source == "depth"
    np.testing.assert_array_equal(scene.depth, truth.depth_raw)
    assert scene.warnings == (f"{tmp_path / 's' / 'depth_bfx'}: missing, raw depth/ used instead of the refined depth",)
    assert read_scene(tmp_path / "s", tmp_path, depth="raw").warnings == ()  # asked for: nothing to say


def test_the_raw_depth_fallback_is_counted_in_scan_and_the_export_report(tmp_path: Path) -> None:
    root = tmp_path / "data"
    scenes = write_dataset(root, 3, seed=3, size=SMALL)
    shutil.rmtree(scenes[1] / "depth_bfx")
    want = f"{scenes[1] / 'depth_bfx'}: missing, raw depth/ used instead of the refined depth"
    checks = run_scan(ScanConfig(root=root))
    fallback = lambda warnings: [w for w in warnings if "depth_bfx" in w]
    assert [fallback(c.warnings) for c in checks] == [[], [want], []] and all(c.ok for c in checks)
    report = run_export(ExportConfig(root=root, out=tmp_path / "out", size=(8, 8), workers=1))
    assert fallback(report.warnings) == [want]
    assert fallback(json.loads((tmp_path / "out" / "report.json").read_text())["warnings"]) == [want]


def test_label_preference_seg_mat_then_seg2d_then_json(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=3, size=SMALL, label_source="index.json")
    other = np.ones(SMALL, np.uint16)
    write_seg2d(tmp_path / "meta", [Seg2DEntry("SUNRGBD/kv2/kinect2data/s", other, ("toolbox_name",))])
    with open_seg2d(tmp_path / "meta" / "SUNRGBD2Dseg.mat") as seg2d:
        assert read_labels(tmp_path / "s", tmp_path, seg2d=seg2d).names == ("toolbox_name",)
        assert read_labels(tmp_path / "s", tmp_path).names == truth.names  # without it: index.json
        write_scene(tmp_path / "s", seed=3, size=SMALL, label_source="seg.mat", names=["from_seg_mat"])
        assert read_labels(tmp_path / "s", tmp_path, seg2d=seg2d).names == ("from_seg_mat",)


def test_backup_json_is_never_read(tmp_path: Path) -> None:
    write_scene(tmp_path / "s", seed=3, size=SMALL, label_source="none")
    backup = tmp_path / "s" / "annotation2Dfinal"
    backup.mkdir()
    (backup / "index.json~").write_text('{"objects": [{"name": "stale"}], "frames": []}')
    (backup / "index.json.bak").write_text("{broken")
    assert read_labels(tmp_path / "s", tmp_path).label_source == "none"


def test_other_annotation_folders(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=4, size=SMALL, label_source="index.json")
    (tmp_path / "s" / "annotation2Dfinal").rename(tmp_path / "s" / "annotation2D3D")
    rec = read_labels(tmp_path / "s", tmp_path)
    assert rec.label_source == "annotation2D3D/index.json" and rec.names == truth.names


# --- bad scene folders: one line naming the file and the problem -------------------------------


def _break(scene: Path, how: str) -> None:
    image = next((scene / "image").glob("*.jpg"))
    depth = next((scene / "depth_bfx").glob("*.png"))
    if how == "no image":
        image.unlink()
    elif how == "two images":
        shutil.copy(image, scene / "image" / "0000999.jpg")
    elif how == "truncated jpeg":
        image.write_bytes(image.read_bytes()[:200])
    elif how == "8-bit depth":
        Image.fromarray(np.zeros(SMALL, np.uint8)).save(depth)
    elif how == "depth size":
        Image.fromarray(np.zeros((SMALL[0] + 1, SMALL[1]), np.uint16)).save(depth)
    elif how == "no depth":
        shutil.rmtree(scene / "depth_bfx")
        shutil.rmtree(scene / "depth")
    elif how == "seglabel size":
        from fixtures.scenes import write_seg_mat

        write_seg_mat(scene / "seg.mat", np.zeros((2, 2), np.uint16), ["wall"])
    elif how == "bad intrinsics":
        (scene / "intrinsics.txt").write_text("1 2 3\n")


BROKEN = [
    ("no image", r"/s/image: no JPEG image$"),
    ("two images", r"/s/image: 2 JPEG images \(0000001\.jpg, 0000999\.jpg\), expected one$"),
    ("truncated jpeg", r"/s/image/0000001\.jpg: not a readable JPEG \(.*\)$"),
    ("8-bit depth", r"/s/depth_bfx/0000001\.png: depth PNG is mode L, expected 16-bit single channel$"),
    ("depth size", r"/s/depth_bfx/0000001\.png: depth is 33x25, image is 33x24$"),
    ("no depth", r"/s/depth: no depth PNG$"),
    ("seglabel size", r"/s/seg\.mat: seglabel is 2x2, image is 33x24$"),
    ("bad intrinsics", r"/s/intrinsics\.txt: 3 numbers, expected a 3x3 matrix$"),
]


@pytest.mark.parametrize(("how", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_bad_scene(tmp_path: Path, how: str, message: str) -> None:
    write_scene(tmp_path / "s", seed=1, size=SMALL)
    _break(tmp_path / "s", how)
    with pytest.raises(BadInput, match=message) as err:
        read_scene(tmp_path / "s", tmp_path)
    assert "\n" not in str(err.value)


def test_malformed_index_json_in_scene(tmp_path: Path) -> None:
    write_scene(tmp_path / "s", seed=1, size=SMALL, label_source="index.json")
    (tmp_path / "s" / "annotation2Dfinal" / "index.json").write_text('{"frames": [')
    with pytest.raises(BadInput, match=r"/s/annotation2Dfinal/index\.json: malformed JSON"):
        read_labels(tmp_path / "s", tmp_path)


# --- the real scene folders in ../shared -------------------------------------------------------


def test_real_kv2_scene(shared_data: Path) -> None:
    root = shared_data / "sunrgbd"
    scene = read_scene(root / "2014-12-18_11-31-54_260595134347", root)
    assert scene.rel_path == "2014-12-18_11-31-54_260595134347"
    assert scene.rgb.shape == (530, 730, 3) and scene.depth.shape == (530, 730)
    assert scene.scene_type == "office" and scene.label_source == "none" and scene.names == ()
    assert scene.depth_source == "depth_bfx" and scene.depth.min() == pytest.approx(0.64)
    np.testing.assert_allclose(scene.intrinsics, [[529.5, 0, 365], [0, 529.5, 265], [0, 0, 1]])
    assert scene.extrinsics is not None and scene.extrinsics[1, 2] == pytest.approx(0.34671)


def test_real_kv1_scene_with_index_json(shared_data: Path) -> None:
    root = shared_data / "sunrgbd"
    scene = read_scene(root / "img_0063", root, depth="raw")
    assert scene.rgb.shape == (427, 561, 3) and scene.depth_source == "depth"
    assert scene.label_source == "annotation2Dfinal/index.json"
    assert scene.names == ("shelf", "wall", "floor", "chair", "books", "box")
    np.testing.assert_allclose(scene.intrinsics[0], [520.532, 0, 277.9258])


def test_depth_named_like_the_image_wins(tmp_path: Path) -> None:
    # kv1 scenes name depth `<image>_abs.png`; a stray second PNG must not confuse the pick
    truth = write_scene(tmp_path / "s", seed=2, size=SMALL)
    png = next((tmp_path / "s" / "depth_bfx").glob("*.png"))
    png.rename(png.with_name("0000002_abs.png"))
    Image.fromarray(np.zeros((3, 3), np.uint16)).save(png.with_name("thumbnail.png"))
    np.testing.assert_array_equal(read_scene(tmp_path / "s", tmp_path).depth, truth.depth)
    (tmp_path / "s" / "depth_bfx" / "0000002_abs.png").rename(png.with_name("other.png"))
    with pytest.raises(BadInput, match=r"/s/depth_bfx: 2 PNGs and none named like the image$"):
        read_scene(tmp_path / "s", tmp_path)


def test_rel_path_of_a_scene_given_as_root(tmp_path: Path) -> None:
    write_scene(tmp_path / "000001_x-resize", seed=2, size=SMALL)
    assert read_scene(tmp_path / "000001_x-resize", tmp_path / "000001_x-resize").rel_path == "000001_x-resize"
    assert read_scene(tmp_path / "000001_x-resize", tmp_path / "elsewhere").rel_path == "000001_x-resize"
