"""The field's own Cityscapes tools on sunprep's outputs (issue 12): cityscapesScripts parses every
exported name and its `evalPixelLevelSemanticLabeling` scores an export and `sunprep evaluate
--save-predictions` exactly as `sunprep evaluate` does; depth is optional everywhere."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.cityscapes import write_release
from fixtures.scenes import write_dataset, write_scene
from sunprep.cli import app
from sunprep.export.cityscapes_source import load_label_table
from sunprep.export.registry import FORMATS
from sunprep.export.run import ExportConfig, run_export
from sunprep.sunrgbd.sensors import city_token, frame_number
from sunprep.train.data import open_dataset

cs_helpers = pytest.importorskip("cityscapesscripts.helpers.csHelpers", reason="cityscapesScripts (test extra) is not installed")

CS_SIZE = (64, 128)  # the fixture release; exported at half size, an exact halving
HALF = (slice(1, None, 2), slice(1, None, 2))  # nearest-neighbour samples of a halving: pixel (2i+1, 2j+1)


def run_cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_cityscapes_official_export_carries_the_release_maps(tmp_path: Path) -> None:
    truths = write_release(tmp_path / "cs", seed=4, size=CS_SIZE)
    out = tmp_path / "out"
    run_export(ExportConfig(root=tmp_path / "cs", out=out, dataset="cityscapes", format="cityscapes-official", size=(32, 64), workers=1))
    lut = load_label_table().lut
    for t in truths:
        gt = out / "gtFine" / t.split / t.city
        label_ids = Image.open(gt / f"{t.stem}_gtFine_labelIds.png")
        instance_ids = Image.open(gt / f"{t.stem}_gtFine_instanceIds.png")
        color = Image.open(gt / f"{t.stem}_gtFine_color.png")
        assert (label_ids.mode, instance_ids.mode, color.mode) == ("L", "I;16", "RGBA")
        assert np.array_equal(np.asarray(label_ids), t.label_ids[HALF])
        assert np.array_equal(np.asarray(instance_ids), t.instance_ids[HALF])
        assert np.array_equal(np.asarray(color), t.color[HALF])
        assert (np.asarray(instance_ids) > 1000).any()  # instances survive (id * 1000 + k)
        train_ids = np.asarray(Image.open(gt / f"{t.stem}_gtFine_labelTrainIds.png")).astype(np.int16)
        assert np.array_equal(np.where(train_ids == 255, -1, train_ids), lut[t.label_ids[HALF]])
    manifest = pd.read_parquet(out / "manifest.parquet")
    assert all(len(f) == 6 for f in manifest["files"])  # image, labelTrainIds, depth, labelIds, instanceIds, color


def test_a_release_without_instance_ids_or_colour_exports_label_ids(tmp_path: Path) -> None:
    write_release(tmp_path / "cs", seed=2, size=CS_SIZE, per_city=1)
    for extra in ("instanceIds", "color"):
        for p in (tmp_path / "cs" / "gtFine").rglob(f"*_gtFine_{extra}.png"):
            p.unlink()
    out = tmp_path / "out"
    run_export(ExportConfig(root=tmp_path / "cs", out=out, dataset="cityscapes", format="cityscapes-official", size=(32, 64), workers=1))
    names = sorted(p.name for p in (out / "gtFine" / "val").rglob("*.png"))
    assert names == ["frankfurt_000000_000019_gtFine_labelIds.png", "frankfurt_000000_000019_gtFine_labelTrainIds.png"]


def test_every_exported_name_parses_with_cityscapes_scripts(tmp_path: Path) -> None:
    """SUN RGB-D stems become `{sensor}_{index}_{frame}`; the scene's own name stays in the manifest."""
    scenes = write_dataset(tmp_path / "in", 3, seed=5, size=(53, 73))
    align = tmp_path / "in" / "SUNRGBD" / "kv2" / "align_kv2" / "2014-12-18_11-31-54_260595134347"
    write_scene(align, seed=9, size=(53, 73))
    write_release(tmp_path / "cs", seed=1, size=CS_SIZE, per_city=1)
    sun, cs = tmp_path / "sun", tmp_path / "cs_out"
    run_export(ExportConfig(root=tmp_path / "in" / "SUNRGBD" / "kv2", out=sun, format="cityscapes-official", size=(16, 32), workers=1, val_fraction=0.5))
    run_export(ExportConfig(root=tmp_path / "cs", out=cs, dataset="cityscapes", format="cityscapes-official", size=(16, 32), workers=1))
    for out in (sun, cs):
        files = list(out.rglob("*.png"))
        assert len(files) >= 12
        for p in files:
            info = cs_helpers.getCsFileInfo(str(p))  # exits the process on a name it cannot parse
            assert info.city == p.parent.name and info.ext == "png"
            assert info.sequenceNb.isdigit() and info.frameNb.isdigit()
    manifest = pd.read_parquet(sun / "manifest.parquet")
    assert sorted(manifest["scene"]) == sorted([*(f"kinect2data/{s.name}" for s in scenes), f"align_kv2/{align.name}"])
    for row in manifest.to_dict("records"):
        name = Path(row["scene"]).name
        stem = Path(row["files"][0]).name.removesuffix("_leftImg8bit.png")
        city = city_token(f"kv2/{Path(row['scene']).parent.as_posix()}")  # the sensor folders, from kv2/ on
        assert stem == f"{city}_{row['index']:06d}_{frame_number(name):06d}"
    assert {Path(f).parent.name for fs in manifest["files"] for f in fs} == {"kv2-kinect2data", "kv2-align-kv2"}


def test_city_token_and_frame_number() -> None:
    assert city_token("kv2/align_kv2") == "kv2-align-kv2"
    assert city_token("xtion/sun3ddata/mit_32_d507") == "xtion-sun3ddata-mit-32-d507"
    assert frame_number("000002_2014-05-26_14-23-37_260595134347_rgbf000103-resize") == 103
    assert frame_number("img_0063") == 0


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A depth-less fixture release exported in the official layout, a model trained on it, and
    `sunprep evaluate` on its val split with --out and --save-predictions."""
    root = tmp_path_factory.mktemp("official")
    write_release(root / "cs", seed=7, size=CS_SIZE, cities={"train": ("aachen", "bochum"), "val": ("frankfurt", "munster")}, with_depth=False)
    export = root / "export"
    out = run_cli("export", "--root", str(root / "cs"), "--out", str(export), "--dataset", "cityscapes",
                  "--format", "cityscapes-official", "--size", "32x64", "--depth", "none", "--workers", "1", "--quiet")  # fmt: skip
    assert "no depth" in out
    # Three epochs: enough for the model to predict more than one class (after one it predicts the commonest).
    run_cli("train", "--data", str(export), "--out", str(root / "run"), "--epochs", "3", "--width", "8",
            "--batch-size", "2", "--device", "cpu", "--quiet")  # fmt: skip
    out = run_cli("evaluate", "--checkpoint", str(root / "run" / "last.pt"), "--data", str(export), "--split", "val",
                  "--out", str(root / "eval"), "--save-predictions", str(root / "pred"), "--device", "cpu", "--quiet")  # fmt: skip
    assert f"wrote 4 predictions to {root / 'pred' / 'labelIds'}/" in out
    return {"export": export, "eval": root / "eval", "pred": root / "pred"}


def official_scores(export: Path, predictions: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """cityscapesScripts' evalPixelLevelSemanticLabeling, instance scores included, as its main() runs it."""
    if not hasattr(np, "in1d"):  # cityscapesScripts 2.3.0 calls np.in1d, which numpy 2.4 removed
        monkeypatch.setattr(np, "in1d", np.isin, raising=False)
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev

    for name, value in {"predictionPath": str(predictions), "predictionWalk": None, "evalInstLevelScore": True,
                        "quiet": True, "JSONOutput": False}.items():  # fmt: skip
        monkeypatch.setattr(ev.args, name, value)
    gts = sorted(str(p) for p in (export / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    assert len(gts) == 4
    return ev.evaluateImgLists([ev.getPrediction(ev.args, gt) for gt in gts], gts, ev.args)


def test_official_evaluation_equals_sunprep_evaluate(scored: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    result = official_scores(scored["export"], scored["pred"] / "labelIds", monkeypatch)
    rows = list(csv.DictReader((scored["eval"] / "per_class.csv").open()))
    # sunprep's confusion.csv, by hand: IoU = tp / (gt + pred - tp), exact (per_class.csv rounds to 6 digits).
    cm = np.array([row[1:] for row in csv.reader((scored["eval"] / "confusion.csv").open())][1:], np.int64)
    assert len(rows) == 19 and cm.shape == (19, 19)
    compared = 0
    for k, r in enumerate(rows):
        theirs = result["classScores"][r["name"]]
        union = cm[k].sum() + cm[:, k].sum() - cm[k, k]
        if r["iou"] == "":  # neither in ground truth nor predicted: undefined in both
            assert math.isnan(theirs) and union == 0, r["name"]
        else:
            assert theirs == cm[k, k] / union, r["name"]
            assert theirs == pytest.approx(float(r["iou"]), abs=5e-7), r["name"]
            compared += 1
    assert compared >= 10  # the fixture holds every class; a real comparison, not NaN against NaN
    summary = json.loads((scored["eval"] / "summary.json").read_text())
    assert result["averageScoreClasses"] == pytest.approx(summary["miou"], abs=1e-12)  # both average the defined IoUs


def test_predictions_are_label_ids_with_colours(scored: dict[str, Path]) -> None:
    table = load_label_table()
    colours = {tuple(c) for c in table.classes.colours}
    stems = sorted(p.stem for p in (scored["pred"] / "labelIds").glob("*.png"))
    assert stems == sorted(p.name.removesuffix("_leftImg8bit.png") for p in (scored["export"] / "leftImg8bit" / "val").rglob("*.png"))
    present: set[int] = set()
    for stem in stems:
        ids = np.asarray(Image.open(scored["pred"] / "labelIds" / f"{stem}.png"))
        colour = np.asarray(Image.open(scored["pred"] / "color" / f"{stem}.png"))
        assert ids.shape == (32, 64) and colour.shape == (32, 64, 3)
        assert set(np.unique(ids).tolist()) <= set(table.label_ids.tolist())  # official label ids, never train ids
        train_ids = table.lut[ids]
        assert np.array_equal(colour, table.classes.palette()[train_ids])
        assert {tuple(c) for c in colour.reshape(-1, 3).tolist()} <= colours
        present |= set(np.unique(ids).tolist())
    assert len(present) >= 2


def test_depth_none_writes_no_depth_in_any_format(tmp_path: Path) -> None:
    scenes = write_dataset(tmp_path / "in", 4, seed=3, size=(20, 28))
    for folder in ("depth", "depth_bfx"):
        shutil.rmtree(scenes[0] / folder)  # a scene without depth exports under --depth none
    for fmt in FORMATS:
        out = tmp_path / fmt
        report = run_export(ExportConfig(root=tmp_path / "in", out=out, format=fmt, size=(8, 16), depth="none", workers=1, val_fraction=0.5))
        assert report.skipped == () and sum(report.counts.values()) == 4
        assert not [p for p in out.rglob("*") if "depth" in p.name]
        manifest = pd.read_parquet(out / "manifest.parquet")
        assert set(manifest["depth_source"]) == {"none"}
        assert json.loads((out / "report.json").read_text())["settings"]["depth"] == "none"
        ds = open_dataset(out)
        for split in ds.splits:
            assert ds.load(split, depth=True).depth is None
    with_depth = run_export(ExportConfig(root=tmp_path / "in", out=tmp_path / "d", size=(8, 16), workers=1))
    assert [s.reason.endswith("no depth PNG") for s in with_depth.skipped] == [True]


def test_cityscapes_without_disparity_refuses_with_the_hint(tmp_path: Path) -> None:
    write_release(tmp_path / "cs", seed=5, size=CS_SIZE, per_city=1, with_depth=False)
    args = ["export", "--root", str(tmp_path / "cs"), "--out", str(tmp_path / "out"), "--dataset", "cityscapes", "--workers", "1", "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert res.output == f"error: {tmp_path / 'cs'}: no disparity/ folder, so no depth (only leftImg8bit and gtFine downloaded?); export without depth with --depth none\n"
    assert not (tmp_path / "out").exists()
    out = run_cli(*args, "--depth", "none")
    assert "exported 2 train, 1 val" in out and "no depth" in out
    assert not (tmp_path / "out" / "train" / "depth").exists()


def test_scan_depth_none_checks_no_depth(tmp_path: Path) -> None:
    scenes = write_dataset(tmp_path, 2, seed=1, size=(20, 28))
    for folder in ("depth", "depth_bfx"):
        shutil.rmtree(scenes[1] / folder)
    res = CliRunner().invoke(app, ["scan", str(tmp_path), "--quiet", "--json"])
    assert res.exit_code == 1 and "no depth PNG" in res.output
    res = CliRunner().invoke(app, ["scan", str(tmp_path), "--quiet", "--json", "--depth", "none"])
    assert res.exit_code == 0, res.output
    assert {s["depth_source"] for s in json.loads(res.output)["scenes"]} == {"none"}
