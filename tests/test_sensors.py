"""All four sensors: --sensors, discovery of every sensor folder's layout, per-sensor reading and
depth decoding, mixed sizes into one --size, the manifest's sensor column, and the official
split of all 10,335 images read from the real allsplit.mat."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.scenes import write_scene
from fixtures.sensors import LAYOUTS, write_sensor_dataset
from sunprep.cli.app import app
from sunprep.errors import BadInput
from sunprep.export.run import ExportConfig, run_export
from sunprep.export.splits import load_split_file
from sunprep.sunrgbd.depth import MAX_DEPTH_M, decode_depth, read_depth_png
from sunprep.sunrgbd.discover import discover_scenes
from sunprep.sunrgbd.scene import find_depth, find_image, read_scene
from sunprep.sunrgbd.sensors import (
    DEFAULT_SENSOR_FOLDERS,
    SENSOR_FOLDERS,
    parse_sensor_folders,
    scene_key,
    sensor_of,
)

ALLSPLIT = "sunrgbd_toolbox/traintestSUNRGBD/allsplit.mat"
runner = CliRunner()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Two scenes of every sensor folder at a fifth of their real sizes."""
    root = tmp_path_factory.mktemp("sensors")
    return root, write_sensor_dataset(root, 2, seed=7, scale=0.2)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One scene of every sensor folder at its real size (561x427, 730x530, 640x480)."""
    root = tmp_path_factory.mktemp("sensors-full")
    return root, write_sensor_dataset(root, 1, seed=8)


# --- the choice ---------------------------------------------------------------------------------


def test_parse_sensor_folders() -> None:
    assert parse_sensor_folders(["xtion/sun3ddata,kv1/NYUdata", "kv1/NYUdata/"]) == ("kv1/NYUdata", "xtion/sun3ddata")
    assert parse_sensor_folders(["all"]) == SENSOR_FOLDERS and len(SENSOR_FOLDERS) == 10
    assert parse_sensor_folders(["kv2/kinect2data", "all"]) == SENSOR_FOLDERS
    with pytest.raises(BadInput, match=r"--sensors 'kv2': not a sensor folder; choose from kv1/NYUdata, .*, xtion/xtion_align_data or all"):
        parse_sensor_folders(["kv2"])
    with pytest.raises(BadInput, match="at least one"):
        parse_sensor_folders([" , "])


def test_sensor_of_scene_keys() -> None:
    assert sensor_of(scene_key("/data1/SUNRGBD/xtion/sun3ddata/mit_32_d507/d507_1/0000008-000000234612/")) == "xtion/sun3ddata"
    assert sensor_of(scene_key("SUNRGBD/kv1/NYUdata/NYU0001//image/NYU0001.jpg")) == "kv1/NYUdata"
    assert sensor_of("img_0063") == "" and sensor_of("kv2/elsewhere/x") == ""


# --- discovery and reading ----------------------------------------------------------------------


def test_discovery_by_sensor(small: tuple[Path, dict]) -> None:
    root, written = small
    every = {t.scene_dir for ts in written.values() for t in ts}
    assert discover_scenes(root) == sorted(t.scene_dir for t in written["kv2/kinect2data"])  # the default: unchanged
    assert set(discover_scenes(root / "SUNRGBD", SENSOR_FOLDERS)) == every
    nested = discover_scenes(root, ("xtion/sun3ddata",))
    assert [p.relative_to(root / "SUNRGBD" / "xtion" / "sun3ddata").parts[:2] for p in nested] == [
        ("Portland_hotel", "Portland_hotel"), ("mit_32_d507", "d507_1"),
    ]  # <building>/<sequence>/<frame>/, as the real paths
    two = discover_scenes(root, ("kv1/NYUdata", "realsense/sh"))
    assert {sensor_of(scene_key(p.as_posix())) for p in two} == {"kv1/NYUdata", "realsense/sh"} and len(two) == 4


def test_absent_sensor_folder(tmp_path: Path) -> None:
    write_sensor_dataset(tmp_path, 1, seed=1, sensors=("kv1/b3dodata", "kv2/kinect2data"), scale=0.05)
    with pytest.raises(BadInput, match=r"/SUNRGBD: no realsense/lg folder"):
        discover_scenes(tmp_path, ("kv1/b3dodata", "realsense/lg"))
    assert len(discover_scenes(tmp_path, SENSOR_FOLDERS)) == 2  # `all` takes the folders a partial fetch has


@pytest.mark.parametrize("folder", SENSOR_FOLDERS)
def test_each_sensor_reads_in_its_layout(full: tuple[Path, dict], folder: str) -> None:
    root, written = full
    (truth,) = written[folder]
    scene = read_scene(truth.scene_dir, root)
    assert scene.rgb.shape == (*LAYOUTS[folder].size, 3)
    assert scene.rel_path.startswith(f"SUNRGBD/{folder}/")
    np.testing.assert_array_equal(scene.labels, truth.labels)
    assert scene.names == truth.names and scene.label_source == truth.label_source
    assert scene.depth_source == "depth_bfx"
    np.testing.assert_array_equal(scene.depth, truth.depth)  # the fixture's millimetres through the toolbox's rule
    raw = read_scene(truth.scene_dir, root, depth="raw")
    np.testing.assert_array_equal(raw.depth, truth.depth_raw)
    image, depth_png = find_image(truth.scene_dir), find_depth(truth.scene_dir, None, "refined")[0]
    if folder == "kv1/b3dodata":
        assert depth_png.stem == f"{image.stem}_abs"
    elif folder == "xtion/sun3ddata":
        assert depth_png.stem.split("-")[0] == image.stem.split("-")[0] and depth_png.stem != image.stem
    else:
        assert depth_png.stem == image.stem


# --- depth: the toolbox's formula ---------------------------------------------------------------


def toolbox_depth(stored: int) -> float:
    """read3dPoints.m for one uint16 value, in plain integers:
    `bitor(bitshift(d, -3), bitshift(d, 16 - 3))` (uint16: the left shift drops the high bits),
    /1000, `depth(depth > 8) = 8`."""
    mm = (stored >> 3) | ((stored << 13) & 0xFFFF)
    return min(mm / 1000, 8.0)


def test_decode_matches_toolbox_for_every_uint16() -> None:
    stored = np.arange(2**16, dtype=np.uint16)
    want = np.array([toolbox_depth(int(v)) for v in stored], np.float32)
    np.testing.assert_array_equal(decode_depth(stored), want)


@pytest.mark.parametrize(
    "scene, png", [("img_0063", "img_0063_abs.png"), ("2014-12-18_11-31-54_260595134347", "0000144.png")]
)
@pytest.mark.parametrize("kind", ["depth", "depth_bfx"])
def test_real_depth_files_decode_as_the_toolbox(shared_data: Path, scene: str, png: str, kind: str) -> None:
    """The real kv1 (b3do) and kv2 (align_kv2) depth PNGs, against the formula done by hand."""
    path = shared_data / "sunrgbd" / scene / kind / png
    with Image.open(path) as im:
        stored = np.asarray(im).astype(np.int64)
    want = np.vectorize(toolbox_depth, otypes=[np.float32])(stored)
    got = read_depth_png(path, stored.shape)
    np.testing.assert_array_equal(got, want)
    measured = got[got > 0]
    assert 0.3 < float(np.median(measured)) < 5.0 and float(measured.max()) <= MAX_DEPTH_M  # metres of a room
    if kind == "depth_bfx":
        assert (got > 0).all()  # the refined depth has its holes filled


# --- export: mixed sizes into one --size, the sensor column -------------------------------------


@pytest.mark.parametrize("fmt, fit, size", [("cityscapes", "crop", (64, 128)), ("cityscapes-official", "pad", (48, 48)), ("cityscapes", "stretch", (40, 90))])
def test_mixed_sensors_export_to_one_size(full: tuple[Path, dict], tmp_path: Path, fmt: str, fit: str, size: tuple[int, int]) -> None:
    root, _ = full
    cfg = ExportConfig(root=root, out=tmp_path / "out", format=fmt, fit=fit, size=size, sensors=SENSOR_FOLDERS, workers=1)  # type: ignore[arg-type]
    report = run_export(cfg)
    assert sum(report.counts.values()) == 10 and report.skipped == ()
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert sorted(manifest["sensor"]) == sorted(SENSOR_FOLDERS)
    assert all(row.scene.startswith(f"SUNRGBD/{row.sensor}/") for row in manifest.itertuples())
    for files in manifest["files"]:
        image, label, depth = (tmp_path / "out" / f for f in files)
        arrays = [np.load(p) for p in (image, label, depth)] if fmt == "cityscapes" else [np.asarray(Image.open(p)) for p in (image, label, depth)]
        assert [a.shape[:2] for a in arrays] == [size] * 3
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(doc["sensors"]) == sorted(SENSOR_FOLDERS)  # report.json sorts its keys
    assert {f: sum(c.values()) for f, c in doc["sensors"].items()} == dict.fromkeys(SENSOR_FOLDERS, 1)
    assert doc["settings"]["sensors"] == list(SENSOR_FOLDERS)
    assert report.sensors == {f: doc["sensors"][f] for f in SENSOR_FOLDERS}


def test_default_export_is_kinect2data_and_keeps_its_settings(small: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = small
    report = run_export(ExportConfig(root=root, out=tmp_path / "out", size=(16, 32), workers=1))
    assert sum(report.counts.values()) == 2 and set(report.sensors) == {"kv2/kinect2data"}
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "sensors" not in doc["settings"]  # exports begun before --sensors still resume
    assert ExportConfig(root=root, out=tmp_path).sensors == DEFAULT_SENSOR_FOLDERS


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_sensors_for_scan_normalize_export(small: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = small
    scan = runner.invoke(app, ["scan", str(root), "--sensors", "kv1/NYUdata,xtion/sun3ddata", "--sensors", "realsense/sh", "--json"])
    assert scan.exit_code == 0, scan.output
    doc = json.loads(scan.stdout)
    assert doc["summary"]["sensors"] == {"kv1/NYUdata": 2, "realsense/sh": 2, "xtion/sun3ddata": 2}
    assert {s["sensor"] for s in doc["scenes"]} == {"kv1/NYUdata", "realsense/sh", "xtion/sun3ddata"}
    norm = runner.invoke(app, ["normalize", "--root", str(root), "--sensors", "all", "--json", "-q"])
    assert norm.exit_code == 0, norm.output
    assert json.loads(norm.stdout)["scenes"] == 20
    out = tmp_path / "out"
    exp = runner.invoke(app, ["export", "--root", str(root), "--out", str(out), "--sensors", "all", "--size", "16x32", "-j", "1", "-q"])
    assert exp.exit_code == 0, exp.output
    assert "by sensor: kv1/NYUdata " in exp.stdout and "xtion/xtion_align_data" in exp.stdout
    assert Counter(pd.read_parquet(out / "manifest.parquet")["sensor"]) == dict.fromkeys(SENSOR_FOLDERS, 2)


@pytest.mark.parametrize("command", [["scan", "ROOT"], ["normalize", "--root", "ROOT"], ["export", "--root", "ROOT", "--out", "OUT"]])
def test_cli_refuses_unknown_sensor(small: tuple[Path, dict], tmp_path: Path, command: list[str]) -> None:
    root, _ = small
    args = [str(root) if a == "ROOT" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    result = runner.invoke(app, [*args, "--sensors", "kv1/NYUdata,kinect2"])
    assert result.exit_code == 2
    assert "'kinect2': not a sensor folder" in result.output and not (tmp_path / "out").exists()
    assert "xtion/xtion_align_data" in runner.invoke(app, [command[0], "--help"], env={"COLUMNS": "300"}).output


def test_scene_folder_holding_a_fixture_from_elsewhere(tmp_path: Path) -> None:
    """Under --sensors a SUNRGBD/ root reads only sensor folders: a stray folder beside them is not a sensor."""
    write_sensor_dataset(tmp_path, 1, seed=2, sensors=("kv2/kinect2data",), scale=0.05)
    write_scene(tmp_path / "SUNRGBD" / "kv2" / "stray" / "s", seed=1, size=(8, 8))
    assert len(discover_scenes(tmp_path, SENSOR_FOLDERS)) == 1


# --- the official split of all 10,335 -----------------------------------------------------------


def test_official_split_of_all_sensors(shared_data: Path) -> None:
    """The real allsplit.mat: 5,285 train / 5,050 test over all ten folders; every listed path,
    rooted anywhere, gets its split from sunprep's matching."""
    table = load_split_file(shared_data / ALLSPLIT)
    assert Counter(table.by_key.values()) == {"train": 5285, "val": 5050}
    per_sensor = Counter((sensor_of(k), s) for k, s in table.by_key.items())
    assert {f for f, _ in per_sensor} == set(SENSOR_FOLDERS)  # every scene lies in one of the ten folders
    assert (per_sensor["kv2/kinect2data", "train"], per_sensor["kv2/kinect2data", "val"]) == (1774, 1711)
    assert sum(per_sensor[f, "train"] + per_sensor[f, "val"] for f in SENSOR_FOLDERS) == 10335
    from scipy.io import loadmat

    mat = loadmat(shared_data / ALLSPLIT)
    for var, split in (("alltrain", "train"), ("alltest", "val")):
        for cell in mat[var].ravel():
            listed = str(cell.ravel()[0])  # e.g. /data1/SUNRGBD/xtion/sun3ddata/mit_32_d507/d507_1/0000008-000000234612/
            here = Path("/mnt/datasets/SUNRGBD") / listed.split("/SUNRGBD/", 1)[1]
            assert table.split_of(here) == split, listed


def test_official_split_matches_the_image_lists(shared_data: Path) -> None:
    """The same split as text lists of image paths (`SUNRGBD/<scene>//image/<name>.jpg`)."""
    table = load_split_file(shared_data / ALLSPLIT)
    for name, split in (("training", "train"), ("testing", "val")):
        lines = (shared_data / "splits" / f"sunrgbd_{name}_images.txt").read_text().split()
        assert {table.by_key[scene_key(line)] for line in lines} == {split}
        assert len(lines) == {"train": 5285, "val": 5050}[split]
