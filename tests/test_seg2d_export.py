"""The toolbox SUNRGBD2Dseg.mat as a label source of `export` and `normalize --root`.

Scenes are written without labels of their own (label_source="none"), so every label either
comes from the toolbox file or is void.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fixtures.scenes import kv2_scene_name, write_scene
from fixtures.seg2d import Seg2DEntry, write_seg2d
from sunprep.cli.app import app
from sunprep.export import sources
from sunprep.export.run import ExportConfig, run_export
from sunprep.labels.labelmap import load_label_map
from sunprep.labels.normalize import NormalizeConfig, run_normalize

SIZE = (24, 48)  # exported at this size with --fit stretch: no resampling, labels compare pixel for pixel
NAMES = ("wall", "floor", "chair", "table", "bed", "blorb")  # "blorb" resolves to other
N_SCENES = 4  # the last one is missing from the toolbox file


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Every output file but report.json (it holds timings)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != "report.json"}


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory) -> dict:
    """Scenes under root/SUNRGBD/kv2/kinect2data/ and the toolbox files in root/Metadata/."""
    root = tmp_path_factory.mktemp("sunrgbd")
    rng = np.random.default_rng(11)
    entries, truth = [], {}
    for i in range(N_SCENES):
        scene_dir = root / "SUNRGBD" / "kv2" / "kinect2data" / kv2_scene_name(i + 1, rng)
        write_scene(scene_dir, seed=i, size=SIZE, label_source="none")
        names = tuple(rng.choice(NAMES, size=3, replace=False).tolist())
        labels = rng.integers(0, len(names) + 1, size=SIZE).astype(np.uint16)
        rel = scene_dir.relative_to(root).as_posix()
        truth[rel] = (labels, names)
        if i < N_SCENES - 1:
            entries.append(Seg2DEntry(rel, labels, names))
    write_seg2d(root / "Metadata", entries)
    order = root / "order.txt"  # the same order as SUNRGBDMeta.mat, given as a list of scene paths
    order.write_text("".join(f"{e.sequence_name}\n" for e in entries))
    return {"root": root, "seg2d": root / "Metadata" / "SUNRGBD2Dseg.mat", "order": order, "truth": truth}


def exported_labels(out: Path) -> dict[str, tuple[str, np.ndarray]]:
    manifest = pd.read_parquet(out / "manifest.parquet")
    return {r["scene"]: (r["label_source"], np.load(out / r["files"][1])) for r in manifest.to_dict("records")}


def test_export_reads_the_toolbox_labels_alike_for_1_and_2_workers(toolbox, tmp_path) -> None:
    root, seg2d = toolbox["root"], toolbox["seg2d"]
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"workers{workers}"
        cfg = ExportConfig(root=root, out=outs[workers], size=SIZE, fit="stretch", seg2d=seg2d, workers=workers, keep_unlabeled=True)
        report = run_export(cfg)
        assert sum(report.counts.values()) == N_SCENES and report.skipped == ()
        assert sources._SEG2D is None  # the in-process run closed its handle: no later fork inherits one
    assert tree_bytes(outs[1]) == tree_bytes(outs[2])

    label_map = load_label_map()
    got = exported_labels(outs[2])
    listed = list(toolbox["truth"])[: N_SCENES - 1]
    for rel, (labels, names) in toolbox["truth"].items():
        source, label = got[rel]
        if rel in listed:
            assert source == "SUNRGBD2Dseg.mat"
            np.testing.assert_array_equal(label, label_map.lut(names)[labels])
            assert (label >= 0).any()
        else:  # not in the toolbox file and no labels of its own: all void, kept by keep_unlabeled
            assert source == "none" and (label == -1).all()
    settings = json.loads((outs[1] / "report.json").read_text())["settings"]
    assert settings["seg2d"] == str(seg2d) and settings["seg2d_order"] is None


def test_export_cli_seg2d_order_and_refused_rerun(toolbox, tmp_path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["export", "--root", str(toolbox["root"]), "--out", str(out), "--size", "24x48", "--fit", "stretch", "-j", "1", "--quiet"]
    seg = ["--seg2d", str(toolbox["seg2d"]), "--seg2d-order", str(toolbox["order"])]
    result = runner.invoke(app, [*args, *seg])
    assert result.exit_code == 0, result.output
    sources = sorted(source for source, _ in exported_labels(out).values())
    assert sources == ["SUNRGBD2Dseg.mat"] * (N_SCENES - 1)  # the scene it lacks has no labels: left out
    assert "1 scene without annotation left out" in result.stdout
    settings = json.loads((out / "report.json").read_text())["settings"]
    assert settings["seg2d_order"] == str(toolbox["order"])
    without = runner.invoke(app, args)  # other settings: the out folder holds the toolbox's labels
    assert without.exit_code == 2 and "other export settings" in without.output
    short = tmp_path / "short.txt"
    short.write_text(toolbox["order"].read_text().splitlines()[0] + "\n")
    mismatch = runner.invoke(app, [*args[:4], str(tmp_path / "other"), *args[5:], "--seg2d", str(toolbox["seg2d"]), "--seg2d-order", str(short)])
    assert mismatch.exit_code == 2 and "holds 3 images but the scene order lists 1" in mismatch.output


def test_normalize_root_counts_the_toolbox_names(toolbox, tmp_path) -> None:
    expected: dict[str, list[int]] = {}
    for labels, names in list(toolbox["truth"].values())[: N_SCENES - 1]:
        for k, name in enumerate(names, start=1):
            count = expected.setdefault(name, [0, 0])
            count[0] += 1
            count[1] += int((labels == k).sum())
    result = run_normalize(NormalizeConfig(root=toolbox["root"], seg2d=toolbox["seg2d"]))
    got = {r.raw_label: [r.images, r.pixels] for r in result.table.itertuples()}
    assert got == expected and result.scenes == N_SCENES and result.skipped == []
    assert run_normalize(NormalizeConfig(root=toolbox["root"])).table.empty  # no label source without it

    runner = CliRunner()
    cli = runner.invoke(app, ["normalize", "--root", str(toolbox["root"]), "--seg2d", str(toolbox["seg2d"]), "--json", "--out", str(tmp_path / "n")])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["names"] == len(expected)
    assert json.loads((tmp_path / "n" / "normalize.json").read_text())["config"]["seg2d"] == str(toolbox["seg2d"])
    labels = tmp_path / "names.txt"
    labels.write_text("wall\n")
    no_root = runner.invoke(app, ["normalize", "--labels", str(labels), "--seg2d", str(toolbox["seg2d"])])
    assert no_root.exit_code == 2 and "--seg2d labels the scenes of --root" in no_root.output
