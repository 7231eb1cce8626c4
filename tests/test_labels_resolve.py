"""Resolution of tricky names, layering precedence, fuzzy batching, and measured accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.labels.canonical import canonical
from sunprep.labels.classes import load_classes
from sunprep.labels.labelmap import build_resolver
from sunprep.labels.resolve import _SCALE, SCORERS, FuzzyConfig, Resolver
from sunprep.labels.tables import parse_mapping, read_project_tables
from tests.data.label_testset import (
    ACCURACY_KINDS,
    OTHER_KINDS,
    current_truth,
    evaluate,
    held_out_resolver,
    holdout_lines,
    read_testset,
)
from tests.data.typo_testset import ISSUE_WORDS, measure, read_set

CLASSES = load_classes()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def resolver(shared_data: Path) -> Resolver:
    return build_resolver([shared_data / "seglistall.csv"])


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
        # one slip of a short name, taken when the evidence is unambiguous (issue 10)
        ("lmap", "lamp", "fuzzy"),  # swap
        ("wlal", "wall", "fuzzy"),
        ("doro", "door", "fuzzy"),
        ("sfoa", "sofa", "fuzzy"),
        ("sibk", "sink", "fuzzy"),  # b touches n
        ("deks", "desk", "fuzzy"),  # not the rare raw name `dek` by a singular guess
        ("dsek", "desk", "fuzzy"),
        ("bde", "bed", "fuzzy"),
        ("boz", "box", "fuzzy"),
        ("tvv", "tv", "fuzzy"),
        ("big bde", "bed", "fuzzy"),  # a slip in a compound's head
        # real words one slip from a class name stay what they are
        ("shell", "other", "other"),
        ("cjair", "chair", "fuzzy"),  # ... but a slip that is not a word is corrected
        # relations: the head is before them; reviewed compounds whose last word misleads
        ("building_next_door", "other", "other"),
        ("board_against_wall", "other", "other"),
        ("lamp next to bed", "lamp", "rule"),
        ("sofa_cum_bed", "sofa", "rule"),
        ("sofa_bed", "sofa", "rule"),
        ("plastic_baggie", "bag", "rule"),
        ("plastic_bag", "bag", "rule"),
        ("boom_box", "other", "other"),
        ("iron box", "other", "other"),
        ("punching_bag", "other", "other"),
        ("picture_frame_mat", "picture", "rule"),
        ("dust_jacket", "books", "rule"),
        ("airflow_monitor", "other", "other"),
        ("lego_person", "other", "other"),
        ("high_boy", "dresser", "rule"),
        ("toiler_seat", "toilet", "rule"),
        ("water closet", "toilet", "rule"),
        ("sound_box", "other", "other"),
        ("cable box", "other", "other"),
        ("sleeping bag", "other", "other"),
        *((w, "other", "other") for w in ("chain", "cable", "soda", "ball", "hooks", "boots", "bowl", "fan")),
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
    bare = build_resolver()
    got = [r.class_name for r in bare.resolve(["Chair_2", "laptops", "kitchen cupboard", "dorr", "stapler"])]
    assert got == ["chair", "computer", "cabinet", "door", "other"]  # `dorr`: one slip, one candidate


def test_prefixes_and_plurals_of_words_are_not_slips() -> None:
    """Without seglistall, so that no table row decides: a lone letter before a short name is a
    prefix (`xbox`), not a slip, while a touching or doubled one is (`vbox`, `bbox`); a one-word
    plural of a common English word (`bays`, `eights`) is that word, not a slip of a class name,
    while a slip of a plural the word list lacks is still corrected (`lampss`, `deks`)."""
    names = ["xbox", "xbed", "ebag", "vbox", "bbox", "bays", "gags", "eights", "blinks", "pats", "lampss", "deks"]
    got = [r.class_name for r in build_resolver().resolve(names)]
    assert got == ["other"] * 3 + ["box", "box"] + ["other"] * 5 + ["lamp", "desk"]


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
    """The old set's targets, truths from today's reviewed tables: >= 96 % (97 % before the reviewed
    compounds changed truths and real words stopped being corrected), <= 1 % false matches."""
    text = (shared_data / "seglistall.csv").read_bytes().decode("utf-8-sig")
    rows = current_truth(text, read_testset())
    result = evaluate(held_out_resolver(text, holdout_lines(rows)), rows)
    correct, total = result["accuracy"]
    wrong, others = result["false_match"]
    assert total >= 700 and others >= 450
    assert correct / total >= 0.96, result
    assert wrong / others <= 0.01, result


def test_fixture_names_reach_the_class_a_human_gave_them(resolver: Resolver) -> None:
    with (ROOT / "fixtures" / "raw_names.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    got = resolver.resolve([r["raw_label"] for r in rows])
    wrong = [(r["raw_label"], r["class"], g.class_name) for r, g in zip(rows, got) if g.class_name != r["class"]]
    assert wrong == []


PREVIOUS = FuzzyConfig(min_length=4, single_edit=False, word_count=0)  # the method before issue 10


@pytest.mark.parametrize("file", ["typo_heldout.csv", "typo_fresh.csv"])
def test_typo_targets_on_the_held_out_sets(shared_data: Path, file: str) -> None:
    """Issue 10's targets on two held-out sets made differently (tests/data/typo_testset.py and
    typo_fresh.py): typos >= 95 %, names of <= 4 letters >= 85 %, false matches <= 1 %.

    What is left: a slip of a rarely used name that is one slip from a much used class name too
    (`bedr` for beer -> bed, `jhair` for hair -> chair); no name-only resolver can tell them.
    """
    rows = read_set(file)
    text = (shared_data / "seglistall.csv").read_bytes().decode("utf-8-sig")
    got = measure(held_out_resolver(text, holdout_lines(rows)), rows)
    (typos, n), (short, m), (false, k) = got["typos"], got["short"], got["false_matches"]
    assert n >= 800 and m >= n / 4 and k >= 100
    assert typos / n >= 0.95 and short / m >= 0.85, got
    assert false / k <= 0.01, got


def test_no_drop_on_names_the_previous_method_got_right(shared_data: Path) -> None:
    """On the old held-out set (truths from today's tables), nothing the previous method got right is
    lost, except names that are English words (`cartoon`, `binds`): those stay what they say."""
    text = (shared_data / "seglistall.csv").read_bytes().decode("utf-8-sig")
    rows = [r for r in current_truth(text, read_testset()) if r["kind"] in ACCURACY_KINDS + OTHER_KINDS]
    names = [r["raw_label"] for r in rows]
    before = held_out_resolver(text, holdout_lines(rows), PREVIOUS).resolve(names)
    after = held_out_resolver(text, holdout_lines(rows)).resolve(names)
    resolver = build_resolver()
    lost = [
        r["raw_label"] for r, b, a in zip(rows, before, after)
        if b.class_name == r["truth"] != a.class_name and not resolver._is_word(canonical(r["raw_label"]))
    ]
    assert lost == []


def test_short_names_and_real_words_guards(shared_data: Path) -> None:
    """The guards that keep non-class names `other` (issue 13's mutation: short names let into fuzzy).

    One letter is anything: never corrected. Real words one slip from a class name are held out of
    the table here, so only the word guard keeps them `other`.
    """
    text = (shared_data / "seglistall.csv").read_bytes().decode("utf-8-sig")
    lines = {i for i, ln in enumerate(text.splitlines(), start=1) if ln.split(",")[1].lower() in ISSUE_WORDS}
    resolver = held_out_resolver(text, lines)
    assert len(lines) >= 7
    got = resolver.resolve([*"tvbx", *ISSUE_WORDS, "sfoa"])
    assert [r.class_name for r in got] == ["other"] * (4 + len(ISSUE_WORDS)) + ["sofa"]
    unguarded = held_out_resolver(text, lines, FuzzyConfig(word_count=0)).resolve(list(ISSUE_WORDS))
    assert sum(r.class_name != "other" for r in unguarded) >= 5  # the guard, not distance, keeps them other


@settings(max_examples=20, deadline=None)
@given(st.permutations(["lmap", "wlal", "shell", "sfoa", "tb", "chiar", "book", "bokk", "couch", "cuoch", "x"]), st.data())
def test_resolution_does_not_depend_on_the_batch(names: list[str], data: st.DataObject) -> None:
    """A name resolves the same alone, in any order, beside any other names; a listed alias always
    wins over a fuzzy neighbour in the same batch."""
    k = data.draw(st.integers(1, len(names)))
    batch = names[:k]
    together = {r.raw_label: r for r in build_resolver().resolve(batch)}
    for name in batch:
        assert build_resolver().resolve([name])[0] == together[name]
    if "couch" in together:
        assert (together["couch"].class_name, together["couch"].method) == ("sofa", "rule")


def _counts_table(counts: dict[str, int]) -> str:
    head = "clean_label,original_labels,seglistall index,seg37list index,seg37list label,images,number of images\n"
    return head + "".join(f"{n},{n},{i},{CLASSES.id_of(n) + 1},{n},[1],{c}\n" for i, (n, c) in enumerate(counts.items()))


@pytest.mark.parametrize(
    ("counts", "want"),
    [
        ({"bed": 50, "box": 1}, "bed"),  # `bex`: x touches d, a common slip, and bed is used most
        ({"bed": 1, "box": 500}, "box"),  # e -> o is a rare slip, but box is used 500 times as often
        ({"bed": 1, "box": 50}, "other"),  # split evidence (2 vs 5.1): no class holds 80 % of it
    ],
)
def test_one_slip_needs_dominant_evidence(counts: dict[str, int], want: str) -> None:
    table = parse_mapping(_counts_table(counts), "counts.csv", CLASSES)
    assert build_resolver([table]).resolve(["bex"])[0].class_name == want
