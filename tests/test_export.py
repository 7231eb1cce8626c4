"""sunprep export: formats, label invariants, determinism across --workers, Cityscapes input, CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from fixtures.cityscapes import write_release
from fixtures.scenes import write_dataset
from sunprep.cli.app import app
from sunprep.export.cityscapes_source import load_label_table
from sunprep.export.registry import FORMATS
from sunprep.export.run import ExportConfig, run_export
from sunprep.export.splits import hashed_split
from sunprep.labels.classes import load_classes
from sunprep.labels.labelmap import load_label_map
from sunprep.sunrgbd.discover import discover_scenes
from sunprep.sunrgbd.scene import read_scene

SIZE = (53, 73)  # a tenth of kv2's 530x730, same aspect


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sunrgbd")
    write_dataset(root, 8, seed=5, size=SIZE, other_sensors=True)
    return root


@pytest.fixture(scope="module")
def normalised(dataset) -> dict[str, np.ndarray]:
    """Each scene's full-size class map, normalised exactly as the interface says."""
    label_map = load_label_map()
    out = {}
    for d in discover_scenes(dataset):
        scene = read_scene(d, dataset)
        out[scene.rel_path] = label_map.lut(scene.names)[scene.labels]
    return out


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every output file but report.json (it holds timings)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "report.json"}


def load_outputs(out: Path, fmt: str) -> list[dict]:
    """Each sample as arrays, with its manifest row, decoded as a consumer of the format would."""
    manifest = pd.read_parquet(out / "manifest.parquet")
    rows = []
    shards = {}
    for r in manifest.to_dict("records"):
        if fmt == "cityscapes":
            arrays = {role: np.load(out / f) for role, f in zip(("image", "label", "depth"), r["files"])}
        elif fmt == "cityscapes-official":
            arrays = {role: np.asarray(Image.open(out / f)) for role, f in zip(("image", "label", "depth"), r["files"])}
        else:
            shard = r["files"][0]
            if shard not in shards:
                shards[shard] = pd.read_parquet(out / shard).set_index("index")
            row = shards[shard].loc[r["index"]]
            assert row["scene"] == r["scene"] and row["split"] == r["split"]
            arrays = {role: np.asarray(Image.open(io.BytesIO(row[role]["bytes"]))) for role in ("image", "label", "depth")}
        rows.append({**r, **arrays})
    return rows


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(FORMATS),
    fit=st.sampled_from(("stretch", "crop", "pad")),
    size=st.tuples(st.integers(8, 40), st.integers(8, 40)),
)
def test_shapes_dtypes_and_labels_per_format(dataset, normalised, tmp_path_factory, fmt, fit, size) -> None:
    out = tmp_path_factory.mktemp("out")
    report = run_export(ExportConfig(root=dataset, out=out, format=fmt, fit=fit, size=size, workers=1))
    assert sum(report.counts.values()) == len(normalised) == 8 and report.skipped == ()
    h, w = size
    n_classes = len(load_classes())
    for r in load_outputs(out, fmt):
        image, label, depth = r["image"], r["label"], r["depth"]
        if fmt == "cityscapes":
            assert image.dtype == np.float32 and image.shape == (h, w, 3)
            assert image.min() >= 0.0 and image.max() <= 1.0
            assert label.dtype == np.int64 and label.shape == (h, w)
            assert depth.dtype == np.float32 and depth.shape == (h, w, 1)
            void = -1
        else:
            assert image.dtype == np.uint8 and image.shape == (h, w, 3)
            assert label.dtype == np.uint8 and label.shape == (h, w)
            assert depth.dtype == np.uint16 and depth.shape == (h, w)
            void = 255
        assert depth.min() >= 0 and depth.max() <= (8.0 if fmt == "cityscapes" else 8000)
        # Every output label occurs in the normalised input, or is void.
        source = set(np.unique(normalised[r["scene"]]).tolist()) | {-1}
        got = {-1 if v == void else v for v in np.unique(label).tolist()}
        assert got <= source
        assert got - {-1} <= set(range(n_classes))
    # Indices run 0..n-1 per split, without gaps.
    manifest = pd.read_parquet(out / "manifest.parquet")
    for _, part in manifest.groupby("split"):
        assert sorted(part["index"]) == list(range(len(part)))
    assert set(manifest["mapping_fingerprint"]) == {load_label_map().fingerprint}


@pytest.mark.parametrize("fmt", FORMATS)
def test_workers_1_and_2_give_identical_bytes(dataset, tmp_path, fmt) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    run_export(ExportConfig(root=dataset, out=one, format=fmt, size=(16, 32), workers=1, shard_bytes=4_000))
    run_export(ExportConfig(root=dataset, out=two, format=fmt, size=(16, 32), workers=2, shard_bytes=4_000))
    a, b = tree_bytes(one), tree_bytes(two)
    assert a == b
    assert "manifest.parquet" in a and "classes.csv" in a
    if fmt == "parquet":  # the small bound forces several shards per split, each within it
        shards = [k for k in a if k.startswith("train/part-")]
        assert len(shards) > 1
        for s in shards:  # each shard's PNG payload within the bound, unless one row alone exceeds it
            t = pq.read_table(one / s)
            payload = sum(len(cell["bytes"]) for c in ("image", "label", "depth") for cell in t.column(c).to_pylist())
            assert payload <= 4_000 or t.num_rows == 1


def test_only_kinect2_scenes_exported_by_default(dataset, tmp_path) -> None:
    run_export(ExportConfig(root=dataset, out=tmp_path, workers=1, size=(16, 32)))
    scenes = pd.read_parquet(tmp_path / "manifest.parquet")["scene"]
    assert all(s.startswith("SUNRGBD/kv2/kinect2data/") for s in scenes)


def test_depth_encoding_inverse(dataset, tmp_path) -> None:
    metres, inverse = tmp_path / "m", tmp_path / "i"
    run_export(ExportConfig(root=dataset, out=metres, size=(16, 32), workers=1))
    run_export(ExportConfig(root=dataset, out=inverse, size=(16, 32), workers=1, depth_encoding="inverse"))
    d = np.load(metres / "train" / "depth" / "0.npy")
    i = np.load(inverse / "train" / "depth" / "0.npy")
    assert np.array_equal(d == 0, i == 0)
    assert np.allclose(i[d > 0], 1.0 / d[d > 0], rtol=1e-6)


def test_official_split_file_sends_test_to_val(tmp_path) -> None:
    import scipy.io

    root = tmp_path / "data"
    scenes = write_dataset(root, 4, seed=2, size=(20, 28))
    cells = {k: np.empty((1, 2), dtype=object) for k in ("alltrain", "alltest")}
    cells["alltrain"][0, :] = [f"/n/fs/sun3d/data/SUNRGBD/kv2/kinect2data/{s.name}/" for s in scenes[:2]]
    cells["alltest"][0, :] = [f"/data1/SUNRGBD/kv2/kinect2data/{scenes[2].name}", "/data1/SUNRGBD/kv2/kinect2data/other/"]
    split_file = tmp_path / "allsplit.mat"
    scipy.io.savemat(split_file, cells)
    report = run_export(ExportConfig(root=root, out=tmp_path / "out", split_file=split_file, size=(8, 16), workers=1))
    assert report.counts == {"train": 2, "val": 1}
    assert [s.reason for s in report.skipped] == [f"{split_file}: does not list {scenes[3].name}"]
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert manifest.set_index("scene")["split"].to_dict() == {
        f"SUNRGBD/kv2/kinect2data/{scenes[0].name}": "train",
        f"SUNRGBD/kv2/kinect2data/{scenes[1].name}": "train",
        f"SUNRGBD/kv2/kinect2data/{scenes[2].name}": "val",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_cityscapes_release_exports_train_ids(tmp_path, fmt) -> None:
    truths = write_release(tmp_path / "cs", seed=4, size=(64, 128))
    out = tmp_path / "out"
    report = run_export(ExportConfig(root=tmp_path / "cs", out=out, dataset="cityscapes", format=fmt, size=(32, 64), workers=1))
    assert report.counts == {"train": 4, "val": 2} and report.skipped == ()
    lut = load_label_table().lut
    rows = {r["scene"]: r for r in load_outputs(out, fmt)}
    void = -1 if fmt == "cityscapes" else 255
    for t in truths:
        r = rows[f"leftImg8bit/{t.split}/{t.city}/{t.stem}"]
        # 64x128 -> 32x64 is an exact halving: nearest takes source pixel (2i+1, 2j+1).
        expected = lut[t.label_ids[1::2, 1::2]]
        label = r["label"].astype(np.int16)
        assert np.array_equal(np.where(label == void, -1, label), expected)
    classes = load_classes(out / "classes.csv")
    assert len(classes) == 19 and classes.names[13] == "car"
    if fmt == "cityscapes-official":
        assert (out / "gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelTrainIds.png").is_file()


def test_cli_exit_codes_and_output(dataset, tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["export", "--root", str(dataset), "--out", str(out), "--size", "16x32", "--val-fraction", "0.5", "--workers", "1", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    val = sum(hashed_split(d, 0.5, 0) == "val" for d in discover_scenes(dataset))
    assert f"exported {8 - val} train, {val} val" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {"train": 8 - val, "val": val} and report["settings"]["fit"] == "crop"
    changed = runner.invoke(app, [*args[:-3], "--size", "16x16", "--quiet"])
    assert changed.exit_code == 2 and "other export settings" in changed.output
    bad_size = runner.invoke(app, [*args[:5], "--size", "16by32"])
    assert bad_size.exit_code != 0 and "HxW" in bad_size.output
