"""What a single typing slip looks like, and which names are real words rather than slips.

Short names (`lmap`, `wlal`, `sibk`) are one edit from their word, but so are real words
(`shell` from shelf, `chain` from chair, `ball` from wall): the evidence that tells them apart
is (1) whether the name is itself an English word people write, from pyspellchecker's English
frequency list (OpenSubtitles counts; misspellings there have counts of 0-100), and (2) how
likely the edit is for fingers on a QWERTY keyboard: swapped neighbours, a neighbouring key,
a doubled or dropped letter are the common slips (Damerau 1964; Kukich 1992). A lone unrelated letter before a name is no slip but a prefix.
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import Levenshtein

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SEPARATORS = " "


def _neighbours() -> dict[str, frozenset[str]]:
    """Keys touching each key: same row left/right, and the two touching keys of the rows above and below."""
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out: dict[str, set[str]] = {c: set() for c in pos}
    for c, (r, i) in pos.items():
        for d, e in pos.items():
            s, j = e
            if d != c and ((s == r and abs(j - i) == 1) or (s == r + 1 and j in (i - 1, i)) or (s == r - 1 and j in (i, i + 1))):
                out[c].add(d)
                out[d].add(c)
    return {c: frozenset(v) for c, v in out.items()}


NEIGHBOURS = _neighbours()


def adjacent(a: str, b: str) -> bool:
    """Two keys that touch on a QWERTY keyboard."""
    return b in NEIGHBOURS.get(a, frozenset())


def common_slip(typed: str, meant: str) -> bool:
    """True when `typed` is `meant` with one common slip; call only for names one OSA edit apart.

    Common: neighbours swapped, a touching key hit instead, a letter doubled or a touching key
    hit as well, a letter or a separator dropped or added. Uncommon: any other substitution or
    insertion (`bad` for bed: `a` and `e` do not touch).
    """
    if len(typed) == len(meant) and Levenshtein.distance(typed, meant) == 2:
        return True  # Levenshtein counts a swap as two edits, OSA as one
    ops = Levenshtein.editops(typed, meant).as_list()
    if len(ops) != 1:
        return False
    tag, src, dest = str(ops[0][0]), int(ops[0][1]), int(ops[0][2])
    if tag == "replace":
        return adjacent(typed[src], meant[dest])
    if tag == "insert":  # a letter of `meant` missing from `typed`
        return True
    extra = typed[src]  # "delete": `typed` has a letter too many
    around = typed[max(0, src - 1) : src] + typed[src + 1 : src + 2]
    return extra in _SEPARATORS or any(extra == c or adjacent(extra, c) for c in around)


def prefixed(typed: str, meant: str) -> bool:
    """True when `typed` is `meant` with one letter put before it that neither doubles nor touches
    its first letter (`xbox`, `ebook`, `imac`): a prefix, not a slip.

    A finger that strikes an extra key before a word strikes its neighbour or the same key twice
    (`vbox`, `bbox`: common slips); a lone unrelated letter in front is how product names are made.
    """
    return (
        len(typed) == len(meant) + 1 and typed[1:] == meant and typed[0].isalpha()
        and typed[0] != typed[1] and not adjacent(typed[0], typed[1])
    )


@lru_cache(maxsize=1)
def english_counts() -> dict[str, int]:
    """pyspellchecker's English frequency list (about 160,000 words), loaded once per process."""
    from spellchecker import SpellChecker

    return dict(SpellChecker(language="en", distance=1).word_frequency.dictionary)


def word_count(word: str) -> int:
    """How often `word` occurs in the English frequency list (0 when it is not in it)."""
    return english_counts().get(word, 0)
