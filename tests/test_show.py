"""`sunprep show`: one sample of every export format, or a raw SUN RGB-D scene, as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset, write_official_dataset, write_parquet_dataset
from fixtures.scenes import write_scene
from sunprep.cli import app
from sunprep.export.reading import read_sample
from sunprep.figures.canvas import size_px
from sunprep.figures.samples import sample_figure
from sunprep.labels.labelmap import load_label_map
from sunprep.show import pick
from sunprep.train.data import open_dataset

WRITERS = {"cityscapes": write_npy_dataset, "parquet": write_parquet_dataset, "cityscapes-official": write_official_dataset}
REAL_SCENE = Path(__file__).resolve().parents[2] / "shared" / "data" / "sunrgbd" / "img_0063"


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_format_by_index_and_by_scene(fmt: str, tmp_path: Path) -> None:
    root = WRITERS[fmt](tmp_path / fmt, 4, 5, seed=2)
    ds = open_dataset(root)
    assert ds.layout == fmt
    listing = ds.listing("val")
    for shown in (pick(root, index=3), pick(root, scene="scene0003", split="val")):  # the fixture names scene<index> in each split
        want = read_sample(listing, 3, ds.space)
        assert np.array_equal(shown.label, want.label) and np.array_equal(shown.depth, want.depth)
        assert shown.title.startswith("scene0003  (val sample 3 of 5") and fmt in shown.title
    assert np.array_equal(pick(root, scene="scene0001", split="train").label, read_sample(ds.listing("train"), 1, ds.space).label)
    out = tmp_path / "pic.png"
    res = CliRunner().invoke(app, ["show", str(root), "--index", "3", "--out", str(out)])
    assert res.exit_code == 0 and res.output == f"{out}\n"
    shown = pick(root, index=3)
    assert Image.open(out).size == size_px(sample_figure(shown.image, shown.label, shown.depth, shown.classes, shown.title))


def test_raw_scene_folder_resolves_labels_like_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truth = write_scene(tmp_path / "000001_2014-05-26_14-23-37_260595134347_rgbf000103-resize", seed=4, size=(60, 80),
                        names=["chair", "Table", "wall"])  # fmt: skip
    shown = pick(truth.scene_dir)
    label_map = load_label_map()
    assert np.array_equal(shown.label, label_map.lut(truth.names)[truth.labels])
    assert np.allclose(shown.depth, truth.depth) and shown.classes == label_map.classes
    assert shown.title.startswith(truth.scene_dir.name) and "seg.mat" in shown.title
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["show", str(truth.scene_dir)])
    assert res.exit_code == 0 and res.output == f"{truth.scene_dir.name}.png\n"
    assert Image.open(tmp_path / f"{truth.scene_dir.name}.png").format == "PNG"


@pytest.mark.skipif(not REAL_SCENE.is_dir(), reason="../shared/data/sunrgbd/img_0063 (a real Kinect v1 scene) absent")
def test_real_scene_shows_its_annotated_classes() -> None:
    shown = pick(REAL_SCENE)
    fig = sample_figure(shown.image, shown.label, shown.depth, shown.classes, shown.title)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"shelves", "books", "chair"} <= set(names) and shown.image.shape == (427, 561, 3)


def test_bad_picks_are_one_line(tmp_path: Path) -> None:
    root = write_npy_dataset(tmp_path / "d", 2, 3, seed=1)
    scene = write_scene(tmp_path / "scene", seed=1, size=(40, 60)).scene_dir
    (tmp_path / "folder.png").mkdir()
    cases = [
        ([str(root), "--index", "3"], 2, "--index 3 outside 0..2, the 'val' split's samples"),
        ([str(root), "--index", "-1"], 2, "--index -1 outside 0..2"),
        ([str(root), "--scene", "nowhere"], 2, "no scene 'nowhere' in splits train, val"),
        ([str(root), "--index", "0", "--scene", "scene0000"], 2, "--index and --scene both given"),
        ([str(root), "--split", "test"], 5, "no 'test' split (found train, val)"),
        ([str(scene), "--index", "1"], 2, "a scene folder is one sample"),
        ([str(tmp_path / "absent")], 5, "not a folder"),
        ([str(root), "--out", str(tmp_path / "folder.png")], 2, "is a folder; --out names the PNG"),
    ]
    for args, code, message in cases:
        res = CliRunner().invoke(app, ["show", *args])
        assert res.exit_code == code and res.output.startswith("error: ") and message in res.output, (args, res.output)
        assert res.output.count("\n") == 1
    (root / "manifest.parquet").unlink()
    res = CliRunner().invoke(app, ["show", str(root), "--scene", "scene0000"])
    assert res.exit_code == 2 and "manifest.parquet: absent, so no sample can be found by scene name; use --index" in res.output
