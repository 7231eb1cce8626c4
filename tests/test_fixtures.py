"""The fixtures themselves: deterministic, in the real layout, and the committed example up to date."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from scipy.io import loadmat

from fixtures.make_example import make_example
from fixtures.names import RAW_NAMES, messy_names
from fixtures.scenes import pack_zip, write_dataset, write_scene
from sunprep.labels.classes import load_classes
from sunprep.sunrgbd.scene import read_scene

REPO = Path(__file__).resolve().parents[1]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", 3, seed=4, size=(10, 14), other_sensors=True)
    write_dataset(tmp_path / "b", 3, seed=4, size=(10, 14), other_sensors=True)
    write_dataset(tmp_path / "c", 3, seed=5, size=(10, 14))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a").keys() != _files(tmp_path / "c").keys()


def test_dataset_layout(tmp_path: Path) -> None:
    scenes = write_dataset(tmp_path, 3, seed=1, size=(10, 14), other_sensors=True)
    assert [p.parent.relative_to(tmp_path).as_posix() for p in scenes] == ["SUNRGBD/kv2/kinect2data"] * 3
    assert all(p.name.endswith("-resize") and "_260595134347_rgbf" in p.name for p in scenes)
    for sensor in ("kv1/b3dodata", "realsense/lg", "xtion/sun3ddata"):
        assert (tmp_path / "SUNRGBD" / sensor).is_dir()
    files = sorted(p.relative_to(scenes[0]).as_posix() for p in scenes[0].rglob("*") if p.is_file())
    frame = scenes[0].name.split("rgbf")[1][:6]
    assert files == [
        f"depth/0{frame}.png", f"depth_bfx/0{frame}.png", "extrinsics/20140915210114.txt",
        "extrinsics/20141221170930.txt", f"image/0{frame}.jpg", "intrinsics.txt", "scene.txt", "seg.mat",
    ]
    assert (scenes[1] / "annotation2Dfinal" / "index.json").is_file()
    assert (scenes[1] / "annotation2Dfinal" / "index.json~").is_file()  # a stale backup, as in the real data


def test_seg_mat_is_matlab_v5_with_cell_names(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=2, size=(6, 9), names=["wall", "Chair", "chair2"])
    m = loadmat(tmp_path / "s" / "seg.mat")
    assert m["__header__"].startswith(b"MATLAB 5.0 MAT-file")
    assert m["names"].shape == (1, 3) and m["names"].dtype == object
    assert [str(c[0]) for c in m["names"][0]] == ["wall", "Chair", "chair2"]
    np.testing.assert_array_equal(m["seglabel"], truth.labels)
    assert m["seginstances"].shape == (6, 9)


def test_full_kinect_v2_size(tmp_path: Path) -> None:
    truth = write_scene(tmp_path / "s", seed=2)
    assert truth.rgb.shape == (530, 730, 3) and truth.labels.shape == (530, 730)
    np.testing.assert_allclose(truth.intrinsics, [[529.5, 0, 365], [0, 529.5, 265], [0, 0, 1]])


def test_messy_names_come_from_the_table() -> None:
    classes = set(load_classes().names)
    assert {r.kind for r in RAW_NAMES} == {"real", "typo", "plural", "case", "digit"}
    assert all(r.class_name in classes for r in RAW_NAMES)
    names = messy_names(np.random.default_rng(0), 6)
    assert names[:2] == ["wall", "floor"] and len(set(names)) == 6
    assert set(names) <= {r.raw_label for r in RAW_NAMES}


def test_pack_zip_is_deterministic_with_release_layout(tmp_path: Path) -> None:
    write_dataset(tmp_path / "tree", 2, seed=1, size=(8, 8), other_sensors=True)
    a = pack_zip(tmp_path / "tree", tmp_path / "a.zip")
    b = pack_zip(tmp_path / "tree", tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        names = zf.namelist()
    assert all(n.startswith("SUNRGBD/") for n in names)
    assert any(n.startswith("SUNRGBD/kv2/kinect2data/") and n.endswith("seg.mat") for n in names)
    assert any(n.startswith("SUNRGBD/xtion/") for n in names)


def test_bundled_example_is_what_make_example_writes(tmp_path: Path) -> None:
    """example/ is committed; regenerating it must give the same content (JPEG pixels within 2: encoders may differ)."""
    fresh = make_example(tmp_path)
    committed = sorted((REPO / "example" / "SUNRGBD" / "kv2" / "kinect2data").iterdir())
    assert [p.name for p in fresh] == [p.name for p in committed]
    total = sum(p.stat().st_size for p in (REPO / "example").rglob("*") if p.is_file())
    assert total < 1_000_000
    for new, old in zip(fresh, committed):
        a, b = read_scene(new, tmp_path), read_scene(old, REPO / "example")
        assert a.names == b.names and a.label_source == b.label_source and a.scene_type == b.scene_type
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.depth, b.depth)
        assert np.abs(a.rgb.astype(int) - b.rgb.astype(int)).max() <= 2
    sources = [read_scene(p, tmp_path).label_source for p in fresh]
    assert sources.count("seg.mat") == 3 and sources.count("annotation2Dfinal/index.json") == 3


def test_seg_mat_bytes_do_not_depend_on_the_clock(tmp_path: Path, monkeypatch) -> None:
    import time

    write_scene(tmp_path / "a", seed=1, size=(5, 5))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)  # scipy stamps asctime() into the header
    monkeypatch.setattr(time, "asctime", lambda *a: "Thu Jan  1 00:00:00 2099")
    write_scene(tmp_path / "b", seed=1, size=(5, 5))
    assert (tmp_path / "a" / "seg.mat").read_bytes() == (tmp_path / "b" / "seg.mat").read_bytes()


def test_fixture_archives_fetch_with_their_split(tmp_path: Path) -> None:
    """`python -m fixtures.archive OUT N`'s zips, as README uses them: fetch reads both, the split lists the scenes."""
    from fixtures.archive import write_fixture_archives
    from sunprep.fetch.run import FetchConfig, run_fetch

    release, toolbox = write_fixture_archives(tmp_path / "release", 2)
    parts = run_fetch(FetchConfig(dest=tmp_path / "data", source=str(release), toolbox=True, toolbox_source=str(toolbox)))
    assert [p.failed for p in parts] == [(), ()] and parts[0].files > 2
    split = loadmat(tmp_path / "data" / "SUNRGBDtoolbox" / "traintestSUNRGBD" / "allsplit.mat", squeeze_me=True)
    scenes = sorted(p.name for p in (tmp_path / "data" / "SUNRGBD" / "kv2" / "kinect2data").iterdir())
    listed = [str(v).rsplit("/", 1)[-1] for v in [*np.atleast_1d(split["alltrain"]), *np.atleast_1d(split["alltest"])]]
    assert sorted(listed) == scenes and len(scenes) == 2
