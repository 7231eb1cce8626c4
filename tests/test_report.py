"""`sunprep report`: filters, sorting, formats, examples, and the --accept round trip."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fixtures.scenes import write_dataset
from sunprep.cli import app
from sunprep.errors import BadInput
from sunprep.labels.report import ReportQuery, select

SIZE = (40, 56)


def invoke(*args: str):
    result = CliRunner().invoke(app, [*args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture()
def normalized(tmp_path: Path) -> Path:
    write_dataset(tmp_path / "data", 6, seed=11, size=SIZE)
    invoke("normalize", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "norm"), "-q")
    return tmp_path / "norm"


def table_of(result) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(result.stdout), keep_default_na=False)


def test_filters_and_sort(normalized: Path) -> None:
    full = table_of(invoke("report", str(normalized), "--format", "csv"))
    assert len(full) > 10 and list(full["pixels"]) == sorted(full["pixels"], reverse=True)
    fuzzy = table_of(invoke("report", str(normalized), "--method", "fuzzy", "--format", "csv", "--sort", "score"))
    assert len(fuzzy) > 0 and set(fuzzy["method"]) == {"fuzzy"}
    assert list(fuzzy["score"]) == sorted(fuzzy["score"], reverse=True)
    chairs = table_of(invoke("report", str(normalized), "--class", "chair", "--class", "6", "--format", "csv"))
    assert set(chairs["class_name"]) == {"chair", "table"}
    assert len(chairs) == full["class_name"].isin(["chair", "table"]).sum()
    often = table_of(invoke("report", str(normalized), "--min-count", "3", "--sort", "raw_label", "--format", "csv"))
    assert (often["images"] >= 3).all() and list(often["raw_label"]) == sorted(often["raw_label"])
    assert len(often) == (full["images"] >= 3).sum()
    assert len(table_of(invoke("report", str(normalized), "--limit", "2", "--format", "csv"))) == 2


def test_json_table_and_examples(normalized: Path) -> None:
    rows = json.loads(invoke("report", str(normalized), "--method", "exact", "--format", "json").stdout)
    assert rows and {r["method"] for r in rows} == {"exact"}
    shown = invoke("report", str(normalized), "--method", "other").stdout
    assert "names" in shown.splitlines()[0] and "other" in shown
    scenes = invoke("report", str(normalized), "--examples", "WALL").stdout.split()
    assert scenes and all(s.startswith("SUNRGBD/kv2/kinect2data/") for s in scenes)


def test_accept_round_trips_into_the_next_normalize(normalized: Path) -> None:
    before = table_of(invoke("report", str(normalized), "--format", "csv"))
    fuzzy = before[before["method"] == "fuzzy"]
    assert len(fuzzy) > 0
    out = invoke("report", str(normalized), "--accept").stdout
    assert f"accepted {len(fuzzy)} names" in out
    accepted = pd.read_csv(normalized / "accepted.csv")
    assert dict(zip(accepted["raw_label"], accepted["class"])) == dict(zip(fuzzy["raw_label"], fuzzy["class_name"]))
    data = normalized.parent / "data"
    invoke("normalize", "--root", str(data), "--out", str(normalized), "-q")
    after = table_of(invoke("report", str(normalized), "--format", "csv")).set_index("raw_label")
    assert (after.loc[fuzzy["raw_label"], "method"] == "user").all()
    assert list(after.loc[fuzzy["raw_label"], "class_name"]) == list(fuzzy["class_name"])
    assert (after["method"] != "fuzzy").all()


def test_accepting_a_reviewed_other_uses_its_suggestion(tmp_path: Path) -> None:
    """`lamb` is a word, so it stays other; a reviewer who knows the annotator meant lamp accepts it."""
    names = tmp_path / "names.txt"
    names.write_text("lamb\nharmonica\n", encoding="utf-8")
    invoke("normalize", "--labels", str(names), "--out", str(tmp_path / "o"))
    assert "accepted 1 names" in invoke("report", str(tmp_path / "o"), "--method", "other", "--accept").stdout
    assert (tmp_path / "o" / "accepted.csv").read_text().splitlines()[1].startswith("lamb,lamp,")
    invoke("normalize", "--labels", str(names), "--out", str(tmp_path / "o"))
    rows = table_of(invoke("report", str(tmp_path / "o"), "--format", "csv")).set_index("raw_label")
    assert rows.loc["lamb", "class_name"] == "lamp" and rows.loc["harmonica", "class_name"] == "other"


def test_accept_with_nothing_selected_says_so_and_writes_nothing(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("chair\nwall\n", encoding="utf-8")  # both exact: nothing fuzzy to accept
    invoke("normalize", "--labels", str(names), "--out", str(tmp_path / "o"))
    result = invoke("report", str(tmp_path / "o"), "--accept")
    assert result.stdout == "nothing to accept: 0 rows selected, none with a suggested class; accepted.csv unchanged\n"
    assert not (tmp_path / "o" / "accepted.csv").exists()
    exact = invoke("report", str(tmp_path / "o"), "--method", "exact", "--accept")  # selected, but nothing suggested
    assert exact.stdout.startswith("nothing to accept: 2 rows selected") and not (tmp_path / "o" / "accepted.csv").exists()


def test_bad_queries_are_refused(tmp_path: Path) -> None:
    table = pd.DataFrame({"method": ["exact"], "raw_label": ["a"]})
    with pytest.raises(BadInput, match="--method 'fuzy'"):
        select(table, ReportQuery(methods=("fuzy",)))
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == BadInput.exit_code and "no resolved table" in result.stderr
