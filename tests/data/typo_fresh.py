"""A second held-out typo set, made differently from typo_heldout.csv, to catch rules tuned to that one.

    python tests/data/typo_fresh.py ../shared/data/seglistall.csv

writes `typo_fresh.csv` beside this file (committed), with the columns of typo_heldout.csv, so
`typo_testset.measure` scores both alike. What differs from typo_testset.py, on purpose:

- Another seed, and names drawn over every correctly spelt raw name whose class is not other,
  weighted by log(1 + images) (typo_testset.py: the 60 most used by sqrt of images, then the tail
  uniformly); 40 % of the typos are of names of 4 letters or fewer.
- Another slip model: every letter is as likely to be hit, the first one too; a touching key on
  a plain row grid (the key above-left and above, below and below-right, same-row neighbours),
  neighbours swapped, a letter dropped, a letter inserted (a touching key half of the time, any
  letter the other half), a letter doubled, any letter instead of another; all on one word of the
  name, with no separator slips.
- Real words from pyspellchecker's English list (OpenSubtitles counts, not wordfreq), picked by
  rule alone, with no review: one OSA edit from one of the 150 most used single-word class names,
  not a key of the label table, not resolving to a class by the table's own lookups and rules,
  and not an inflection of that name (`lamps`, `lamped`, `clothe` for clothes). Those of Zipf 3
  or more (one in a million tokens, typo_testset.py's bar, about 1,650 occurrences here) must
  stay other (`other_word`). Rarer ones down to 500 occurrences are kind `rare_word`, counted
  apart with no target: below the resolver's word guard, and as likely a slip in a room as the
  word (`sind`, `sine`, `walt`; typo_dev.csv has `sind` as a slip of sink), though some name
  things (`fryer`, `spool`). The resolver's word guard reads the same list, so `other_word` rows
  test that the guard holds on every path; typo_heldout.csv's wordfreq words test the list itself.
- Slips of names whose class is other, by the same model, must stay other (`other_typo`).
- A damaged name that is a key of the table or a word of that list with 100 or more occurrences
  is dropped: it cannot be claimed as a slip.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "typo_fresh.csv"
SEED = 11
N_TYPOS = 900
SHORT_SHARE = 0.4
N_OTHER_TYPOS = 150
N_WORDS = 250  # of each kind, at most
ZIPF = 3.0  # a near-miss word at least this common must stay other
RARE_MIN = 500  # rarer words down to this many occurrences: `rare_word`, no target
TAKEN = 100  # a damaged name this common is a word, not a slip: dropped
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
SLIPS = (  # (kind, weight)
    ("near_key", 0.30), ("swap", 0.15), ("drop", 0.20), ("insert", 0.15), ("double", 0.10), ("other_letter", 0.10),
)
_INFLECTIONS = ("s", "es", "d", "ed", "ing", "er", "y")


def _grid_neighbours() -> dict[str, list[str]]:
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    near = {(0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)}
    return {c: [d for d, (s, j) in pos.items() if (s - r, j - i) in near] for c, (r, i) in pos.items()}


NEAR = _grid_neighbours()


def slip(word: str, kind: str, rng: np.random.Generator) -> str:
    """One slip of `kind` anywhere in `word` (the first letter as likely as the rest)."""
    i = int(rng.integers(0, len(word)))
    c = word[i]
    if kind == "near_key" and NEAR.get(c):
        return word[:i] + str(rng.choice(NEAR[c])) + word[i + 1 :]
    if kind == "swap" and len(word) > 1:
        i = min(i, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop" and len(word) > 2:
        return word[:i] + word[i + 1 :]
    if kind == "insert":
        extra = str(rng.choice(NEAR[c])) if rng.random() < 0.5 and NEAR.get(c) else str(rng.choice(list(_LETTERS)))
        return word[:i] + extra + word[i:] if rng.random() < 0.5 else word[: i + 1] + extra + word[i + 1 :]
    if kind == "other_letter":
        return word[:i] + str(rng.choice([x for x in _LETTERS if x != c])) + word[i + 1 :]
    return word[:i] + c + word[i:]  # double, and any slip that did not apply


def inflected(word: str, name: str) -> bool:
    """`word` is `name` with an ending, or the other way round (`lamps`, `shelved`, `clothe`)."""
    return any(word == name + e or name == word + e for e in _INFLECTIONS)


def make(seglistall: Path) -> list[dict[str, str]]:
    import pandas as pd
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    from sunprep.labels.canonical import canonical
    from sunprep.labels.resolve import FuzzyConfig
    from sunprep.labels.typos import english_counts
    from tests.data.label_testset import full_resolver

    rng = np.random.default_rng(SEED)
    text = seglistall.read_bytes().decode("utf-8-sig")
    full = full_resolver(text)
    exact = full_resolver(text, FuzzyConfig(min_length=1000, single_edit=False))  # lookups and rules, no fuzzy
    counts = english_counts()
    table = pd.read_csv(seglistall, keep_default_na=False, dtype=str)
    table["key"] = table["original_labels"].map(canonical)
    table["n"] = pd.to_numeric(table["number of images"], errors="coerce").fillna(0.0)
    table = table[table["key"] != ""]
    table["truth"] = [r.class_name for r in full.resolve(list(table["original_labels"]))]
    known = set(table["key"]) | {k.replace(" ", "") for k in table["key"]}
    spelt = table[(table["key"] == table["clean_label"].map(canonical)) & table["key"].str.fullmatch(r"[a-z ]+")]
    spelt = spelt.sort_values("n", ascending=False).drop_duplicates("key")
    classed, others = spelt[spelt["truth"] != "other"], spelt[(spelt["truth"] == "other") & (spelt["key"].str.len() >= 3)]
    kinds, probs = zip(*SLIPS)
    p = np.asarray(probs) / sum(probs)
    rows: list[dict[str, str]] = []

    def add(name: str, truth: str, kind: str) -> bool:
        words = name.split(" ")
        j = int(rng.integers(0, len(words)))
        s = str(rng.choice(kinds, p=p))
        words[j] = slip(words[j], s, rng)
        damaged = " ".join(words)
        if damaged == name or damaged in known or damaged.replace(" ", "") in known or all(
            counts.get(w, 0) >= TAKEN for w in damaged.split(" ")
        ):
            return False
        rows.append({"raw_label": damaged, "kind": kind, "truth": truth, "holdout": "", "name": name, "slip": s})
        return True

    def draw(pool: pd.DataFrame, n: int, kind: str) -> None:
        w = np.log1p(pool["n"].to_numpy()) + 0.1
        done = 0
        while done < n:
            r = pool.iloc[int(rng.choice(len(pool), p=w / w.sum()))]
            done += add(r["key"], r["truth"], kind)

    short = classed["key"].str.replace(" ", "").str.len() <= 4
    draw(classed[short], int(N_TYPOS * SHORT_SHARE), "typo")
    draw(classed[~short], N_TYPOS - int(N_TYPOS * SHORT_SHARE), "typo")
    draw(others, N_OTHER_TYPOS, "other_typo")
    heads = [k for k in classed["key"] if " " not in k][:150]
    words = sorted(w for w, c in counts.items() if c >= RARE_MIN and w.isascii() and w.isalpha() and len(w) >= 3)
    common = sum(counts.values()) * 10 ** (ZIPF - 9)
    dist = process.cdist(words, heads, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=1)
    near = []
    for w, row in zip(words, dist):
        close = [heads[j] for j in np.flatnonzero(row == 1)]
        if close and w not in known and not any(inflected(w, h) for h in close) and exact.resolve([w])[0].class_name == "other":
            near.append(w)
    for kind, pool in (("other_word", [w for w in near if counts[w] >= common]),
                       ("rare_word", [w for w in near if counts[w] < common])):
        for i in sorted(rng.choice(len(pool), min(N_WORDS, len(pool)), replace=False)):
            rows.append({"raw_label": pool[i], "kind": kind, "truth": "other", "holdout": "", "name": pool[i],
                         "slip": "real_word"})
        print(f"{kind}: {min(N_WORDS, len(pool))} of {len(pool)}", file=sys.stderr)
    print(f"seed {SEED}: {len(rows)} rows", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    made = make(Path(sys.argv[1]))
    with OUT.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ["raw_label", "kind", "truth", "holdout", "name", "slip"], lineterminator="\n")
        w.writeheader()
        w.writerows(made)
    print(f"{OUT}: {len(made)} rows")
