"""The slip model (keyboard neighbours, common slips), the word list, and relation words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunprep.labels.canonical import head_phrase
from sunprep.labels.typos import NEIGHBOURS, adjacent, common_slip, word_count


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
