"""Canonical forms and the spelling variants tried before fuzzy matching."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.labels.canonical import canonical, head_phrase, singulars, strip_instance, suffixes


def test_canonical_unifies_case_separators_and_unicode() -> None:
    assert canonical("  Night_Stand ") == "night stand"
    assert canonical("book-case") == "book case"
    assert canonical("keyboard/mouse") == "keyboard mouse"
    assert canonical("ＴＶ") == "tv"  # full-width letters, NFKC
    assert canonical("___") == ""


def test_strip_instance_drops_trailing_numbers_only() -> None:
    assert strip_instance("chair2") == "chair"
    assert strip_instance("chair 3") == "chair"
    assert strip_instance("12") == "12"
    assert strip_instance("3d printer") == "3d printer"


def test_singulars_guess_the_last_word() -> None:
    assert singulars("bookss") == ("books",)
    assert "shelf" in singulars("shelves")
    assert singulars("coffee tables")[-1] == "coffee table"
    assert "library" in singulars("libraries")
    assert singulars("tv") == ()


def test_head_phrase_and_suffixes() -> None:
    assert head_phrase("cup of coffee") == "cup"
    assert head_phrase("books on shelf") == "books"
    assert head_phrase("table") == "table"
    assert suffixes("small coffee table") == ["coffee table", "table"]
    assert suffixes("table") == []


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_canonical_is_idempotent_and_trimmed(text: str) -> None:
    once = canonical(text)
    assert canonical(once) == once
    assert once == once.strip() and "  " not in once


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[a-z]{1,8}( [a-z]{1,8}){0,2}", fullmatch=True))
def test_cosmetic_variants_share_a_canonical_form(name: str) -> None:
    for variant in (name.upper(), name.replace(" ", "_"), name.replace(" ", "-"), f" {name.title()}  "):
        assert canonical(variant) == name
