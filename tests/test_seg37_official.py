"""The toolbox's official 37-class maps (`SUNRGBD2Dseg(i).seglabel`): fixture layout, the
`--label-space seg37-official` export in every format, and the agreement report against
sunprep's resolution of the raw names.

Scenes are written without labels of their own, so every label comes from the toolbox file.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fixtures.scenes import kv2_scene_name, write_scene
from fixtures.seg2d import Seg2DEntry, write_seg2d
from sunprep.cli.app import app
from sunprep.errors import BadInput
from sunprep.export.registry import FORMATS
from sunprep.export.resize import plan, resize_nearest
from sunprep.export.run import ExportConfig, run_export
from sunprep.labels.classes import SEG37, load_classes
from sunprep.labels.labelmap import load_label_map
from sunprep.labels.normalize import NormalizeConfig, run_normalize, write_outputs
from sunprep.sunrgbd.mat import OFFICIAL_SOURCE, open_seg2d
from sunprep.train.data import open_dataset

SRC = (32, 64)  # scene size
OUT = (16, 32)  # export size: a nearest-neighbour halving with --fit stretch
NAMES = ("wall", "floor", "chair", "table", "bed", "blorb", "monitor")  # blorb -> other, monitor -> computer
N_SCENES = 5  # scene 3 has `[]` as its seglabel, scene 4 is not in the toolbox file
SHARED_SEG37 = Path(__file__).resolve().parents[2] / "shared" / "data" / "seg37list_derived.txt"


def derived_official(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """What the toolbox would make of the raw names: seg37 value k for a seg37 name, else 0."""
    seg37 = load_classes().names[:SEG37]
    lut = np.array([0] + [seg37.index(n) + 1 if n in seg37 else 0 for n in names], np.uint8)
    return lut[labels]


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sunrgbd")
    rng = np.random.default_rng(37)
    entries, truth = [], {}
    for i in range(N_SCENES):
        scene_dir = root / "SUNRGBD" / "kv2" / "kinect2data" / kv2_scene_name(i + 1, rng)
        write_scene(scene_dir, seed=i, size=SRC, label_source="none")
        names = tuple(rng.choice(NAMES, size=4, replace=False).tolist())
        labels = rng.integers(0, len(names) + 1, size=SRC).astype(np.uint16)
        official = derived_official(labels, names)
        # Planted disagreements: a tenth of the pixels get any official value, 0..37.
        flip = rng.random(SRC) < 0.1
        official[flip] = rng.integers(0, SEG37 + 1, size=int(flip.sum()))
        rel = scene_dir.relative_to(root).as_posix()
        truth[rel] = (labels, names, official)
        if i < N_SCENES - 1:
            entries.append(Seg2DEntry(rel, labels, names, official if i != 3 else None))
    # An empty name in seglistall that no pixel uses: a warning, not an error, for every entry.
    write_seg2d(root / "Metadata", entries, extra_names=("unused_name", ""))
    return {"root": root, "seg2d": root / "Metadata" / "SUNRGBD2Dseg.mat", "truth": truth}


# --- the fixture's seglabel, as MATLAB stores it -----------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=1, max_size=4),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float64]),
    empty=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_seglabel_round_trip_in_matlab_layout(shapes, dtype, empty, seed) -> None:
    rng = np.random.default_rng(seed)
    entries = []
    for i, (h, w) in enumerate(shapes):
        labels = rng.integers(0, 3, size=(h, w)).astype(np.uint16)
        official = rng.integers(0, SEG37 + 1, size=(h, w)).astype(np.uint8) if i != empty else None
        entries.append(Seg2DEntry(f"SUNRGBD/kv2/kinect2data/s{i}", labels, ("wall", "floor", "bed"), official))
    with tempfile.TemporaryDirectory() as tmp:
        write_seg2d(Path(tmp), entries, official_dtype=dtype)
        path = Path(tmp) / "SUNRGBD2Dseg.mat"
        with h5py.File(path, "r") as f:  # the layout published readers of the real file index
            refs = f["SUNRGBD2Dseg"]["seglabel"]
            assert refs.shape == (len(entries), 1) and refs.dtype == h5py.ref_dtype
            for i, e in enumerate(entries):
                ds = f[refs[i][0]]
                if e.official is None:
                    assert ds.attrs["MATLAB_empty"] == 1
                else:
                    assert ds.shape == e.official.shape[::-1]  # column-major: stored W x H
                    np.testing.assert_array_equal(ds[:].T.astype(np.uint8), e.official)
        with open_seg2d(path, [e.sequence_name for e in entries]) as seg2d:
            assert seg2d.has_official
            for e in entries:
                got = seg2d.official(e.sequence_name, None if e.labels is None else e.labels.shape)
                if e.official is None:
                    assert got is None
                else:
                    assert got is not None and got.dtype == np.uint8
                    np.testing.assert_array_equal(got, e.official)
                raw = seg2d.lookup(e.sequence_name)  # the raw names still read beside it
                assert raw is not None and [raw.names[k - 1] for k in np.unique(raw.labels) if k] == [
                    e.names[k - 1] for k in np.unique(e.labels) if k
                ]


def test_official_maps_are_checked(tmp_path) -> None:
    bad = np.full((2, 3), 38, np.uint8)  # no seg37 class
    write_seg2d(tmp_path / "a", [Seg2DEntry("SUNRGBD/kv2/x", np.zeros((2, 3), np.uint16), (), bad)])
    with open_seg2d(tmp_path / "a" / "SUNRGBD2Dseg.mat", ["SUNRGBD/kv2/x"]) as seg2d:
        with pytest.raises(BadInput, match=r"SUNRGBD2Dseg.mat\[1\]: seglabel value 38 outside 0..37"):
            seg2d.official("kv2/x")
        with pytest.raises(BadInput, match=r"\[1\]: seglabel is 3x2, image is 4x2"):
            seg2d.official("kv2/x", (2, 4))
    write_seg2d(tmp_path / "b", [Seg2DEntry("SUNRGBD/kv2/x", np.zeros((2, 3), np.uint16), ())], with_seglabel=False)
    with open_seg2d(tmp_path / "b" / "SUNRGBD2Dseg.mat", ["SUNRGBD/kv2/x"]) as seg2d:
        assert not seg2d.has_official and seg2d.official("kv2/x") is None


# --- the export label space -----------------------------------------------------------------------


def read_back(out: Path) -> dict[str, np.ndarray]:
    """Labels per scene, read with train's own reader (what `sunprep train` would see)."""
    ds = open_dataset(out)
    manifest = pd.read_parquet(out / "manifest.parquet")
    scene_of = {(r["split"], int(r["index"])): r["scene"] for r in manifest.to_dict("records")}
    got = {}
    for split in ds.splits:
        data = ds.load(split, workers=1)
        for k, index in enumerate(data.index.tolist()):
            got[scene_of[(split, index)]] = data.labels[k]
    return got


@pytest.mark.parametrize("fmt", FORMATS)
def test_official_labels_in_every_format(toolbox, tmp_path, fmt) -> None:
    out = tmp_path / fmt
    cfg = ExportConfig(root=toolbox["root"], out=out, format=fmt, size=OUT, fit="stretch", seg2d=toolbox["seg2d"], label_space="seg37-official", workers=1)
    report = run_export(cfg)
    got = read_back(out)
    geom = plan(SRC, OUT, "stretch")
    scenes = list(toolbox["truth"])
    for rel in scenes[:3]:
        official = toolbox["truth"][rel][2]
        expected = resize_nearest(official, geom, fill=0).astype(np.int16) - 1  # 0 -> void (-1), k -> id k-1
        np.testing.assert_array_equal(got[rel], expected)
    assert set(got) == set(scenes[:3])
    reasons = {s.scene: s.reason for s in report.skipped}
    assert set(reasons) == set(scenes[3:]) and all("no seglabel entry" in r for r in reasons.values())
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert set(manifest["label_source"]) == {OFFICIAL_SOURCE}
    assert json.loads((out / "report.json").read_text())["settings"]["label_space"] == "seg37-official"
    assert open_dataset(out).classes.names == load_classes().names[:SEG37]


def test_official_classes_csv(toolbox, tmp_path) -> None:
    out = tmp_path / "o"
    run_export(ExportConfig(root=toolbox["root"], out=out, size=OUT, fit="stretch", seg2d=toolbox["seg2d"], label_space="seg37-official", workers=1))
    rows = list(csv.DictReader((out / "classes.csv").open()))
    project = list(csv.DictReader((Path(__file__).parents[1] / "mappings" / "classes.csv").open()))
    assert rows == project[:SEG37] and len(rows) == 37
    assert [r["name"] for r in rows][:3] == ["wall", "floor", "cabinet"] and rows[-1]["name"] == "bag"
    if SHARED_SEG37.is_file():  # the official order, derived from the public seglistall table
        assert [r["name"] for r in rows] == SHARED_SEG37.read_text().split()


def test_label_space_cli_choices_and_resume(toolbox, tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    base = ["export", "--root", str(toolbox["root"]), "--out", str(out), "--size", "16x32", "--fit", "stretch", "-j", "1", "--quiet"]
    seg = ["--seg2d", str(toolbox["seg2d"])]
    official = runner.invoke(app, [*base, *seg, "--label-space", "seg37-official"])
    assert official.exit_code == 1, official.output  # two scenes have no official map: skipped, named
    assert official.output.count("no seglabel entry") == 2
    other_mode = runner.invoke(app, [*base, *seg])  # the default label space into the same OUT
    assert other_mode.exit_code == 2 and "other export settings" in other_mode.output
    again = runner.invoke(app, [*base, *seg, "--label-space", "seg37-official"])
    assert again.exit_code == 1 and "3 from an earlier run" in again.output

    def refused(*extra: str) -> str:
        r = runner.invoke(app, [*base[:4], str(tmp_path / "x"), *base[5:], *extra])
        assert r.exit_code == 2, r.output
        return r.output

    assert "give --seg2d" in refused("--label-space", "seg37-official")
    assert "does not use them" in refused(*seg, "--label-space", "seg37-official", "--mapping", str(Path(__file__).parents[1] / "mappings" / "aliases.csv"))
    assert "seg37-official" in refused("--label-space", "seg37")  # not a choice
    bare = tmp_path / "bare"
    write_seg2d(bare, [Seg2DEntry(e, t[0], t[1]) for e, t in list(toolbox["truth"].items())[:4]], with_seglabel=False)
    assert "no seglabel field" in refused("--seg2d", str(bare / "SUNRGBD2Dseg.mat"), "--label-space", "seg37-official")


def test_train_and_evaluate_read_an_official_export(toolbox, tmp_path) -> None:
    data = tmp_path / "data"
    run_export(ExportConfig(root=toolbox["root"], out=data, size=OUT, fit="stretch", seg2d=toolbox["seg2d"], label_space="seg37-official", val_fraction=0.5, workers=1))
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--width", "4", "--batch-size", "2", "--quiet"])
    assert trained.exit_code == 0, trained.output
    evaluated = runner.invoke(app, ["evaluate", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--data", str(data), "--out", str(tmp_path / "eval"), "--quiet"])
    assert evaluated.exit_code == 0, evaluated.output
    per_class = pd.read_csv(tmp_path / "eval" / "per_class.csv")
    assert len(per_class) == SEG37 and per_class["name"].tolist() == list(load_classes().names[:SEG37])


# --- Seg2D.lookup's warnings reach the reports ----------------------------------------------------


def test_lookup_warnings_reach_export_and_normalize_reports(toolbox, tmp_path) -> None:
    out = tmp_path / "w"
    report = run_export(ExportConfig(root=toolbox["root"], out=out, size=OUT, fit="stretch", seg2d=toolbox["seg2d"], workers=1))
    expected = "unused empty or non-string name"
    body = json.loads((out / "report.json").read_text())
    assert sum(expected in w for w in body["warnings"]) == 4 == sum(expected in w for w in report.warnings)  # the 4 listed scenes
    manifest = pd.read_parquet(out / "manifest.parquet")
    from_toolbox = manifest[manifest["label_source"] == "SUNRGBD2Dseg.mat"]
    assert len(from_toolbox) == 4 and all(any(expected in w for w in ws) for ws in from_toolbox["warnings"])
    result = run_normalize(NormalizeConfig(root=toolbox["root"], seg2d=toolbox["seg2d"]))
    write_outputs(result, NormalizeConfig(root=toolbox["root"], seg2d=toolbox["seg2d"]), tmp_path / "n")
    assert sum(expected in w for w in json.loads((tmp_path / "n" / "normalize.json").read_text())["warnings"]) == 4


# --- the agreement report ----------------------------------------------------------------------


def naive_agreement(truth: dict) -> tuple[np.ndarray, Counter, Counter]:
    """The confusion and the disagreeing (name, sunprep, official) pixels, one pixel at a time."""
    label_map = load_label_map()
    classes = label_map.classes
    void = len(classes)
    confusion = np.zeros((void + 1, SEG37 + 1), np.int64)
    pixels: Counter = Counter()
    scenes: Counter = Counter()
    for labels, names, official in list(truth.values())[:3]:  # the scenes with both maps
        ids = label_map.class_ids(names)
        seen = set()
        for y in range(labels.shape[0]):
            for x in range(labels.shape[1]):
                k, v = int(labels[y, x]), int(official[y, x])
                row = void if k == 0 else int(ids[k - 1])
                confusion[row, v] += 1
                agrees = (row == void and v == 0) or (row < SEG37 and v == row + 1)
                if not agrees:
                    key = ("(no raw name)" if k == 0 else names[k - 1], "void" if row == void else classes.names[row], "unlabeled" if v == 0 else classes.names[v - 1])
                    pixels[key] += 1
                    seen.add(key)
        scenes.update(seen)
    return confusion, pixels, scenes


def test_agreement_counts_equal_a_naive_reference(toolbox, tmp_path) -> None:
    cfg = NormalizeConfig(root=toolbox["root"], seg2d=toolbox["seg2d"], agreement=True, out=tmp_path / "n")
    result = run_normalize(cfg)
    agreement = result.agreement
    assert agreement is not None
    confusion, pixels, scenes = naive_agreement(toolbox["truth"])
    np.testing.assert_array_equal(agreement.confusion, confusion)
    got = {(d.raw_label, d.sunprep_class, d.official_class): (d.pixels, d.scenes) for d in agreement.names}
    assert got == {key: (n, scenes[key]) for key, n in pixels.items()}
    assert [d.pixels for d in agreement.names] == sorted((d.pixels for d in agreement.names), reverse=True)
    diagonal = sum(confusion[c, c + 1] for c in range(SEG37)) + confusion[-1, 0]
    assert agreement.overall() == pytest.approx(diagonal / confusion.sum())
    labelled = confusion[: len(load_classes()), 1:]
    assert agreement.overall_labelled() == pytest.approx(sum(confusion[c, c + 1] for c in range(SEG37)) / labelled.sum())
    wall = next(c for c in agreement.per_class() if c.name == "wall")
    assert wall.recall == pytest.approx(confusion[0, 1] / confusion[:, 1].sum())
    assert wall.precision == pytest.approx(confusion[0, 1] / confusion[0].sum())
    # The planted sure disagreements: every blorb (other) and monitor (computer) pixel disagrees.
    assert any(d.raw_label == "blorb" and d.sunprep_class == "other" for d in agreement.names)
    assert agreement.compared == 3 and len(agreement.excluded) == 2

    written = write_outputs(result, cfg, tmp_path / "n")
    names_csv = pd.read_csv(tmp_path / "n" / "agreement_names.csv", keep_default_na=False)
    assert len(names_csv) == len(pixels) and names_csv["pixels"].sum() == sum(pixels.values())
    conf_csv = pd.read_csv(tmp_path / "n" / "agreement_confusion.csv", index_col=0)
    assert conf_csv.to_numpy().tolist() == confusion.tolist() and list(conf_csv.columns[:2]) == ["unlabeled", "wall"]
    assert list(conf_csv.index[-3:]) == ["computer", "other", "void"]
    summary = json.loads((tmp_path / "n" / "normalize.json").read_text())["agreement"]
    assert summary["images_compared"] == 3 and summary["pixels"] == confusion.sum()
    assert tmp_path / "n" / "agreement_classes.csv" in written


def test_agreement_cli(toolbox, tmp_path) -> None:
    runner = CliRunner()
    args = ["normalize", "--root", str(toolbox["root"]), "--seg2d", str(toolbox["seg2d"]), "--agreement", "--out", str(tmp_path / "n"), "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "sunprep vs official seg37: 3 images" in r.stdout and "raw names carrying the disagreement" in r.stdout
    assert "2 scenes not compared" in r.stdout
    as_json = runner.invoke(app, [*args[:-1], "--json"])
    assert json.loads(as_json.stdout)["agreement"]["images_compared"] == 3
    no_seg2d = runner.invoke(app, ["normalize", "--root", str(toolbox["root"]), "--agreement"])
    assert no_seg2d.exit_code == 2 and "give both" in no_seg2d.output
