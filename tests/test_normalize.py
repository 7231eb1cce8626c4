"""`sunprep normalize`: names and counts from a dataset or a list, resolved tables, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fixtures.scenes import write_dataset, write_scene
from sunprep.cli import app
from sunprep.errors import BadInput, MappingError
from sunprep.labels.labelmap import load_label_map
from sunprep.labels.normalize import NormalizeConfig, run_normalize, summarise, write_outputs

SIZE = (40, 56)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    scenes = write_dataset(root, 5, seed=3, size=SIZE)
    write_scene(scenes[0].with_name("zz_broken"), seed=99, size=SIZE, names=["chair", "wall"])
    (scenes[0].with_name("zz_broken") / "seg.mat").write_bytes(b"not a mat file")
    return root


def truth_counts(root: Path) -> dict[str, tuple[int, int]]:
    """Images and pixels per raw name, recounted with the reader the slow obvious way."""
    from sunprep.sunrgbd.discover import discover_scenes
    from sunprep.sunrgbd.scene import read_labels

    counts: dict[str, list[int]] = {}
    for scene in discover_scenes(root):
        if scene.name == "zz_broken":
            continue
        rec = read_labels(scene, root)
        for name in set(rec.names):
            counts.setdefault(name, [0, 0])[0] += 1
        for k, name in enumerate(rec.names, start=1):
            counts[name][1] += int((rec.labels == k).sum())
    return {k: (v[0], v[1]) for k, v in counts.items()}


def test_dataset_names_are_counted_and_a_bad_scene_is_skipped(dataset: Path) -> None:
    result = run_normalize(NormalizeConfig(root=dataset))
    table = result.table
    got = {r.raw_label: (r.images, r.pixels) for r in table.itertuples()}
    assert got == truth_counts(dataset)
    assert result.scenes == 5
    assert len(result.skipped) == 1 and "zz_broken/seg.mat:" in result.skipped[0]
    assert list(table["pixels"]) == sorted(table["pixels"], reverse=True)
    summary = summarise(result)
    assert sum(m["share"] for m in summary["methods"].values()) == pytest.approx(1.0)
    assert summary["weighted_by"] == "pixels"


def test_outputs_round_trip_through_load_label_map(dataset: Path, tmp_path: Path) -> None:
    cfg = NormalizeConfig(root=dataset, out=tmp_path / "norm")
    result = run_normalize(cfg)
    paths = write_outputs(result, cfg, cfg.out)
    assert [p.name for p in paths] == ["resolved.parquet", "resolved.csv", "unmapped.csv", "conflicts.csv", "normalize.json"]
    csv_table = pd.read_csv(cfg.out / "resolved.csv", keep_default_na=False)
    assert {"raw_label", "class_id", "class_name", "method", "score"} <= set(csv_table.columns)
    assert pd.read_parquet(cfg.out / "resolved.parquet")["raw_label"].tolist() == csv_table["raw_label"].astype(str).tolist()
    meta = json.loads((cfg.out / "normalize.json").read_text())
    assert meta["summary"]["fingerprint"] == result.fingerprint and len(meta["skipped"]) == 1
    names = list(result.table["raw_label"])
    replayed = load_label_map(resolved=cfg.out)
    assert replayed.class_ids(names).tolist() == result.table["class_id"].tolist()
    assert load_label_map(resolved=cfg.out / "resolved.csv").fingerprint == replayed.fingerprint
    assert replayed.class_ids(["never seen chair"]).tolist() == [4]


def test_resolved_table_of_another_class_table_is_refused(tmp_path: Path) -> None:
    (tmp_path / "resolved.csv").write_text("raw_label,class_id,class_name,method,score\nchair,4,sofa,exact,100\n")
    with pytest.raises(MappingError, match=r"resolved.csv:2: class_id 4 is 'chair' here but 'sofa' in the table"):
        load_label_map(resolved=tmp_path / "resolved.csv")


def test_label_list_cli_prints_what_names_would_become(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Chair_2\nlaptop\nchiar\nstapler\nlaptop\n\n", encoding="utf-8")
    user = tmp_path / "mine.csv"
    user.write_text("raw_label,class\nstapler,box\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["normalize", "--labels", str(names), "--mapping", str(user), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:3] for line in result.stdout.splitlines()[1:5]}
    assert lines == {"Chair_2": ["chair", "exact"], "chiar": ["chair", "fuzzy"], "laptop": ["computer", "rule"], "stapler": ["box", "user"]}
    assert "shares of occurrences" in result.stdout
    table = pd.read_csv(tmp_path / "o" / "resolved.csv", keep_default_na=False)
    assert table.set_index("raw_label")["images"].to_dict() == {"laptop": 2, "Chair_2": 1, "chiar": 1, "stapler": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"chair\n  \nlamp\n", r"names.txt:2: empty or whitespace-only raw name"),
        (b"\n\n", r"names.txt: empty file"),
        (b"caf\xe9\n", r"names.txt: not UTF-8"),
    ],
)
def test_bad_label_lists_exit_with_the_mapping_code(tmp_path: Path, content: bytes, message: str) -> None:
    names = tmp_path / "names.txt"
    names.write_bytes(content)
    result = CliRunner().invoke(app, ["normalize", "--labels", str(names)])
    assert result.exit_code == MappingError.exit_code
    assert result.stderr.count("\n") == 1 and pytest.importorskip("re").search(message, result.stderr)


def test_root_or_labels_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="exactly one of --root DATA or --labels FILE"):
        run_normalize(NormalizeConfig())


def test_real_seglistall_through_the_cli(shared_data: Path, dataset: Path) -> None:
    result = CliRunner().invoke(app, ["normalize", "--mapping", str(shared_data / "seglistall.csv"), "--root", str(dataset), "-q", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["scenes"] == 5 and summary["skipped"] == 1
    assert "warning: skipped" in result.stderr
    # the only unmapped names are the fixture names a human also calls `other` (garbage_bin, ...)
    from fixtures.names import RAW_NAMES

    human_other = {r.raw_label for r in RAW_NAMES if r.class_name == "other"}
    unmapped = {u["raw_label"] for u in summary["top_unmapped"]}
    assert unmapped and unmapped <= human_other
    assert np.isclose(sum(summary["classes"].values()), 1.0)


def test_conflicts_with_the_project_tables_are_reported_not_silent(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("monitor\n", encoding="utf-8")
    user = tmp_path / "mine.csv"
    user.write_text("clean_label,class\nmonitor,tv\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["normalize", "--labels", str(names), "--mapping", str(user), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "1 mapping conflicts (later file wins):" in result.stdout
    assert "'monitor': 37 (mappings/computer.csv:" in result.stdout and f") -> 24 ({user}:2)" in result.stdout
    conflicts = pd.read_csv(tmp_path / "o" / "conflicts.csv")
    assert conflicts[["key", "old", "new"]].values.tolist() == [["monitor", 37, 24]]
    assert pd.read_csv(tmp_path / "o" / "resolved.csv")["class_name"].tolist() == ["tv"]


def _printed(output: str, label: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(f"{label} ")]
    return line.split()[len(label.split())]


def test_normalize_prints_the_fingerprints_an_export_records(dataset: Path, tmp_path: Path) -> None:
    """`normalize --out L` then `export --resolved L`: the same value in both; likewise for --mapping."""
    mapping = tmp_path / "mine.csv"
    mapping.write_text("raw_label,class\nchair,sofa\n")
    runner = CliRunner()
    norm = runner.invoke(app, ["normalize", "--root", str(dataset), "--mapping", str(mapping), "--out", str(tmp_path / "L"), "-q"])
    resolved, rules = _printed(norm.stdout, "resolved fingerprint"), _printed(norm.stdout, "fingerprint")
    assert resolved != rules  # two rule stacks: the replayed table, and the tables themselves
    assert json.loads((tmp_path / "L" / "normalize.json").read_text())["summary"]["resolved_fingerprint"] == resolved
    export = ["export", "--root", str(dataset), "--size", "8x16", "-j", "1", "-q"]
    for option, path, want in (("--resolved", tmp_path / "L", resolved), ("--mapping", mapping, rules)):
        out = tmp_path / option.strip("-")
        result = runner.invoke(app, [*export, "--out", str(out), option, str(path)])
        assert result.exit_code == 1, result.output  # zz_broken is skipped
        assert _printed(result.stdout, "mapping fingerprint") == want
        assert set(pd.read_parquet(out / "manifest.parquet")["mapping_fingerprint"]) == {want}
