"""The slip model (keyboard neighbours, common slips, prefixes), the word list, and relation words."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunprep.labels.canonical import head_phrase
from sunprep.labels.typos import NEIGHBOURS, adjacent, common_slip, english_counts, prefixed, word_count
from tests.data.typo_fresh import RARE_MIN, ZIPF
from tests.data.typo_fresh import make as make_fresh
from tests.data.typo_testset import read_set


@pytest.mark.parametrize(
    ("typed", "meant", "common"),
    [
        ("lmap", "lamp", True),  # neighbours swapped
        ("sibk", "sink", True),  # b touches n
        ("sonk", "sink", True),  # o touches i
        ("bad", "bed", False),  # a and e do not touch
        ("snk", "sunk", True),  # a letter dropped is common wherever it is
        ("bedd", "bed", True),  # doubled
        ("bedx", "bed", True),  # x touches d: struck as well
        ("bedp", "bed", False),  # p is far from d
        ("dor", "door", True),  # a letter dropped
        ("wa ll", "wall", True),  # a separator added
    ],
)
def test_common_slips(typed: str, meant: str, common: bool) -> None:
    assert common_slip(typed, meant) is common


@pytest.mark.parametrize(
    ("typed", "meant", "prefix"),
    [
        ("xbox", "box", True),  # x does not touch b
        ("ebook", "book", True),
        ("ibag", "bag", True),
        ("vbox", "box", False),  # v touches b: struck as well
        ("bbox", "box", False),  # doubled
        ("boxx", "box", False),  # at the end: not a prefix
        ("box", "box", False),
        ("x box", "box", False),  # a separate word
    ],
)
def test_prefixes(typed: str, meant: str, prefix: bool) -> None:
    assert prefixed(typed, meant) is prefix


def test_keyboard_neighbours() -> None:
    assert NEIGHBOURS["g"] == frozenset("tyfhvb")
    assert NEIGHBOURS["q"] == frozenset("wa")


@given(st.sampled_from(sorted(NEIGHBOURS)), st.sampled_from(sorted(NEIGHBOURS)))
def test_adjacency_is_symmetric(a: str, b: str) -> None:
    assert adjacent(a, b) == adjacent(b, a)
    assert not adjacent(a, a)


def test_word_list_tells_words_from_slips() -> None:
    assert min(word_count(w) for w in ("shell", "chain", "cable", "soda", "ball", "hooks", "boots", "bowl", "fan")) >= 1000
    assert max(word_count(w) for w in ("lmap", "wlal", "sfoa", "sibk", "deks", "dsek", "chiar")) == 0


@pytest.mark.parametrize(
    ("key", "head"),
    [
        ("building next door", "building"),
        ("board against wall", "board"),
        ("sofa cum bed", "sofa"),
        ("lamp next to bed", "lamp"),
        ("cup of coffee", "cup"),
        ("books on shelf", "books"),
        ("coffee table", "coffee table"),
        ("nightstand", "nightstand"),
    ],
)
def test_head_is_before_the_relation(key: str, head: str) -> None:
    assert head_phrase(key) == head


def test_fresh_set_is_what_its_generator_writes(shared_data: Path) -> None:
    """tests/data/typo_fresh.csv is reproducible from its code, and holds what its docstring says."""
    made = make_fresh(shared_data / "seglistall.csv")
    assert made == read_set("typo_fresh.csv")
    typos = [r for r in made if r["kind"] == "typo"]
    assert sum(len(r["name"].replace(" ", "")) <= 4 for r in typos) >= len(typos) / 4
    common = sum(english_counts().values()) * 10 ** (ZIPF - 9)  # one in a million tokens at Zipf 3
    assert all(word_count(r["raw_label"]) >= common for r in made if r["kind"] == "other_word")
    assert all(RARE_MIN <= word_count(r["raw_label"]) < common for r in made if r["kind"] == "rare_word")
