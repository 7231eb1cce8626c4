"""Resolution of tricky names, layering precedence, fuzzy batching, and measured accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.labels.classes import load_classes
from sunprep.labels.resolve import _SCALE, SCORERS, FuzzyConfig, Resolver
from sunprep.labels.tables import parse_mapping, read_mapping, read_project_tables
from tests.data.label_testset import evaluate, held_out_resolver, holdout_lines, read_testset

CLASSES = load_classes()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def resolver(shared_data: Path) -> Resolver:
    return Resolver(CLASSES, [read_project_tables(CLASSES), read_mapping(shared_data / "seglistall.csv", CLASSES)])


@pytest.mark.parametrize(
    ("raw", "cls", "method"),
    [
        ("chair", "chair", "exact"),
        ("Chair", "chair", "exact"),
        ("chair2", "chair", "exact"),
        ("chair_3", "chair", "exact"),
        ("chairs", "chair", "exact"),
        ("charir", "chair", "exact"),  # a typo the table itself lists
        ("chiar", "chair", "fuzzy"),  # one swap; ties broken by how often annotators used the name
        ("bookss", "books", "exact"),
        ("book", "books", "rule"),
        ("shelfs", "shelves", "rule"),
        ("televsion", "tv", "fuzzy"),
        ("tv", "tv", "exact"),
        ("tv monitor", "tv", "rule"),
        ("monitor", "computer", "rule"),
        ("computer monitor", "computer", "rule"),
        ("laptop", "computer", "rule"),
        ("desktop_pc", "computer", "rule"),
        ("keyboard", "other", "other"),
        ("printer", "other", "other"),
        ("coffee table", "table", "rule"),
        ("oak coffee table", "table", "rule"),  # unknown compound, known head
        ("game tble", "table", "fuzzy"),  # unknown compound, misspelt head
        ("cup of coffee", "other", "other"),
        ("stapler", "other", "other"),
        ("bottle", "other", "other"),
        ("harmonica", "other", "other"),
        ("xqzvwk", "other", "other"),
        ("", "other", "other"),
    ],
)
def test_tricky_names(resolver: Resolver, raw: str, cls: str, method: str) -> None:
    res = resolver.resolve([raw])[0]
    assert (res.class_name, res.method) == (cls, method), res


def test_resolution_records_its_evidence(resolver: Resolver) -> None:
    res = resolver.resolve(["televsion"])[0]
    assert res.clean_label == "television" and res.matched_key == "television"
    assert res.decided_by.startswith("mappings/aliases.csv:")
    assert res.candidates.startswith("television=") and 80 <= res.score < 100
    far, near = resolver.resolve(["harmonica", "xchairx"])
    assert (far.score, far.decided_by, far.candidates, far.suggested_class) == (0.0, "", "", "")
    assert near.class_name == "other" and near.candidates.startswith("chair=71.4") and near.suggested_class == "chair"


def test_without_seglistall_project_tables_still_resolve() -> None:
    bare = Resolver(CLASSES, [read_project_tables(CLASSES)])
    got = [r.class_name for r in bare.resolve(["Chair_2", "laptops", "kitchen cupboard", "dorr", "stapler"])]
    assert got == ["chair", "computer", "cabinet", "other", "other"]


def test_layers_later_wins_and_conflicts_are_kept(tmp_path: Path) -> None:
    project = read_project_tables(CLASSES)
    first = parse_mapping("clean_label,class\nmonitor,tv\n", "a.csv", CLASSES)
    second = parse_mapping("raw_label,class\nmonitor,wall\n", "b.csv", CLASSES)
    layered = Resolver(CLASSES, [project, first])
    assert layered.resolve(["monitor"])[0].class_name == "tv"
    assert [(c.key, c.old, c.new, c.new_source) for c in layered.conflicts] == [("monitor", "37", "24", "a.csv:2")]
    top = Resolver(CLASSES, [project, first, second]).resolve(["monitor", "monitors"])
    assert [(r.class_name, r.method) for r in top] == [("wall", "user"), ("wall", "user")]


def test_resolve_is_cached_and_order_preserving(resolver: Resolver) -> None:
    names = ["wall", "chiar", "wall", "zzzz"]
    first = resolver.resolve(names)
    assert [r.raw_label for r in first] == names
    assert resolver.resolve(names) == first


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.from_regex(r"[a-e]{3,7}", fullmatch=True), min_size=1, max_size=12, unique=True),
    st.lists(st.from_regex(r"[a-e]{3,7}", fullmatch=True), min_size=1, max_size=6),
    st.sampled_from(sorted(SCORERS)),
)
def test_batched_top3_equals_a_plain_loop(keys: list[str], queries: list[str], scorer: str) -> None:
    """The cdist path against an obvious reference: score every key, sort by score then weight."""
    rng = np.random.default_rng(len(keys))
    weights = rng.integers(0, 3, len(keys)).astype(np.float64)
    cfg = FuzzyConfig(scorer=scorer, floor=40.0)
    resolver = Resolver(CLASSES, [], cfg)
    got = resolver._top(queries, keys, weights)
    scale = _SCALE.get(scorer, 1.0)
    edge = cfg.floor + 1.0  # rapidfuzz rounds normalised cut-offs to whole edits: compare away from the floor
    for q, found in zip(queries, got):
        found = [(k, sc) for k, sc in found if sc >= edge]
        scored = [(k, round(float(SCORERS[scorer](q, k)) * scale, 2), -w, i) for i, (k, w) in enumerate(zip(keys, weights))]
        want = [s for s in sorted((s for s in scored if s[1] >= cfg.floor), key=lambda s: (-s[1], s[2], s[3]))[:3] if s[1] >= edge]
        assert [k for k, _ in found] == [k for k, *_ in want]
        assert [s for _, s in found] == pytest.approx([s for _, s, *_ in want], abs=0.011)


def test_accuracy_and_false_matches_on_the_held_out_test_set(shared_data: Path) -> None:
    """The targets of the issue: >= 97 % on typos and compounds, <= 1 % false matches."""
    rows = read_testset()
    text = (shared_data / "seglistall.csv").read_bytes().decode("utf-8-sig")
    result = evaluate(held_out_resolver(text, holdout_lines(rows)), rows)
    correct, total = result["accuracy"]
    wrong, others = result["false_match"]
    assert total >= 700 and others >= 450
    assert correct / total >= 0.97, result
    assert wrong / others <= 0.01, result


def test_fixture_names_reach_the_class_a_human_gave_them(resolver: Resolver) -> None:
    with (ROOT / "fixtures" / "raw_names.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    got = resolver.resolve([r["raw_label"] for r in rows])
    wrong = [(r["raw_label"], r["class"], g.class_name) for r, g in zip(rows, got) if g.class_name != r["class"]]
    assert wrong == []
