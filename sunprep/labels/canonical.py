"""The canonical form of a raw object name, and the spelling variants tried before fuzzy matching.

Raw SUN RGB-D names are typed by hand (`Chair`, `chair_2`, `book-case`, `bookss`); one
canonical form makes every table key and every query comparable, so exact lookups catch the
cosmetic differences and fuzzy matching is left only with real misspellings.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz.utils import default_process

_INSTANCE = re.compile(r"^(.*?[a-z].*?)\s*\d+$")  # `chair2`, `chair 3`; a name of digits alone stays
# Relation words: what comes before them is the thing (`building next door`, `board against wall`);
# `cum` joins two roles of one thing and the first names it (`sofa cum bed`, as `sofa bed`).
_RELATIONS = (
    "of", "on", "in", "with", "for", "under", "behind", "next", "against", "near", "beside", "by", "at",
    "from", "over", "above", "below", "beneath", "underneath", "inside", "atop", "onto", "into", "between",
    "around", "along", "across", "without", "cum",
)
_PREPOSITIONS = tuple(f" {w} " for w in _RELATIONS)


def canonical(raw: str) -> str:
    """NFKC, lower case, every non-alphanumeric run (`_`, `-`, `/`, `'`) as one space, trimmed.

    rapidfuzz's `default_process` does the case and punctuation part; since rapidfuzz 3.0 the
    scorers no longer apply it by themselves, so every key and query passes through here.
    """
    return " ".join(default_process(unicodedata.normalize("NFKC", raw)).split())


def strip_instance(key: str) -> str:
    """`chair 2` -> `chair`: annotators number instances; `2` alone is kept (it is all we have)."""
    m = _INSTANCE.match(key)
    return m.group(1) if m else key


@lru_cache(maxsize=65536)
def singulars(key: str) -> tuple[str, ...]:
    """Singular guesses for the last word (`bookss` -> `books`, `shelves` -> `shelf`), best first.

    Guesses, not grammar: each is only used when it is an exact key of a table. Cached: every
    lookup of every name asks for them.
    """
    head, _, last = key.rpartition(" ")
    prefix = f"{head} " if head else ""
    out: list[str] = []
    if len(last) > 3 and last.endswith("ies"):
        out.append(last[:-3] + "y")
    if len(last) > 3 and last.endswith("ves"):
        out += [last[:-3] + "f", last[:-3] + "fe"]
    if len(last) > 3 and last.endswith("es"):
        out.append(last[:-2])
    if len(last) > 2 and last.endswith("s"):
        out.append(last[:-1])
    return tuple(prefix + w for w in dict.fromkeys(out))


def head_phrase(key: str) -> str:
    """The part a compound is about: `cup of coffee` -> `cup`, `books on shelf` -> `books`."""
    padded = f" {key} "
    cut = min((padded.find(p) for p in _PREPOSITIONS if padded.find(p) > 0), default=-1)
    return padded[:cut].strip() if cut > 0 else key


def suffixes(key: str) -> list[str]:
    """Proper word suffixes, longest first: `small coffee table` -> `coffee table`, `table`.

    English compounds put the head noun last, so a known suffix names what the thing is.
    """
    words = key.split(" ")
    return [" ".join(words[i:]) for i in range(1, len(words))]
