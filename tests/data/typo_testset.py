"""Typo test sets for label resolution: a dev set to tune on and a held-out set to measure once.

    pip install wordfreq   # only to regenerate; the CSVs are committed
    python tests/data/typo_testset.py ../shared/data/seglistall.csv

writes `typo_dev.csv` (seed 1) and `typo_heldout.csv` (seed 2) beside this file, with the columns
of label_testset.csv (`raw_label, kind, truth, holdout`) plus `name` (the name before damage) and
`slip` (what was done to it).

Independent of the resolver on purpose: the slips come from this file's own keyboard model (key
centres on a staggered grid, neighbours within 1.3 key widths), not from sunprep.labels.typos, and
real words come from wordfreq's English list, not from pyspellchecker's. The resolver is only used
for the truth of the undamaged name, which is what the real table says it is.

- Names: the 60 most used raw names of seglistall (wall, floor, chair, ... tv), drawn by the square
  root of their image counts, and long-tail rows drawn uniformly; a third of the typos at least are
  of names of 4 letters or fewer.
- Slips, in the proportions reported for typing errors (Damerau 1964, Kukich 1992): a touching key
  instead of the right one, neighbours swapped, a letter dropped, a touching key or the same letter
  struck as well, another letter instead, a separator dropped or added, two slips in a long name.
  First letters are hit less often than the rest.
- A damaged name that is itself a raw name of seglistall, or a common English word (Zipf >= 3),
  is dropped: no resolver that sees only the name can tell `bee` typed for bed from a bee.
- Cosmetic damage (case, plural, instance digits, `_`) of long-tail rows that are held out of the
  table, so only variants and rules can find them.
- Near-miss words that must stay other: common English words one edit from a frequent class name
  (`shell`, `chain`, `ball`, ...), reviewed by hand (REJECTED lists those removed), held out of
  the table when it has them. Typos of names whose class is other must stay other too.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sunprep.labels.resolve import Resolver

HERE = Path(__file__).resolve().parent
SETS = {"typo_dev.csv": 1, "typo_heldout.csv": 2}
N_TYPOS = 700
N_COSMETIC = 150
N_OTHER_TYPOS = 100
ISSUE_WORDS = ("shell", "chain", "cable", "soda", "ball", "hooks", "boots", "bowl", "fan")  # held-out set only
# Near-miss candidates removed by review. Forms or kinds of a class name:
REJECTED = {
    "lamps", "desks", "doors", "walls", "beds", "bags", "boxes", "sinks", "sofas", "books", "tables", "chairs",
    "floors", "windows", "pictures", "papers", "curtains", "pillows", "towels", "mirrors", "shelf", "shelve",
    "shelved", "counters", "dressers", "blind", "tvs", "bookshelf", "booked", "booking", "picturesque", "cabinets",
    "clothe", "clothed", "persons", "toilets", "papered", "walled", "floored", "boxed", "bagged", "bedded", "door",
    "deck", "sofa", "lamp", "book", "tablet",
}
# ... and words that name no thing (verbs, adjectives, names, abbreviations), or that in a room are far
# likelier a slip than the word (`commuter`, `widow`, `self`, `cpi`): no truth can be claimed for them.
_NOT_THINGS = (
    "all bah bal bam ban bang bea beg bet ben bid big bled bob bon boo boob boobs bowel brag call chai close closed "
    "closer closes closest commuter cpa cpi cps dat donor doom dug dusk eat fag fainting fall fat fed foster gag hug "
    "jag lag lam lama lame lat led look looks mad mae mah maj mak mal mam mar mas mate mau max may might nat night odor "
    "panting persona pat pointing poor porter posted pox printing right rue run sank sat self sick sight sin sing sins "
    "soft stink stood sunk tale tall tat ted tight towed walk wat wed widow will wink binds able mai mao mot ned "
    "slight took wally aug bae bop bred certain counted dressed eight fight met mit nag pictured red selves sinn vox "
    "blight plight bend roster matt math limp damp pink cooks boon bad lap"
)
REJECTED |= set(_NOT_THINGS.split())
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_STAGGER = (0.0, 0.25, 0.75)


def _centres() -> dict[str, tuple[float, float]]:
    return {c: (i + _STAGGER[r], float(r)) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}


CENTRES = _centres()
NEAR = {
    c: [d for d, (x2, y2) in CENTRES.items() if d != c and math.hypot(x - x2, y - y2) < 1.3]
    for c, (x, y) in CENTRES.items()
}
SLIPS = (  # (kind, weight)
    ("near_key", 0.27), ("swap", 0.18), ("drop", 0.18), ("extra_near", 0.09), ("double", 0.10),
    ("other_letter", 0.06), ("separator", 0.06), ("two_slips", 0.06),
)


def _position(word: str, rng: np.random.Generator, tail: int = 0) -> int:
    """A letter position; the first letter is hit a third as often as each other letter."""
    n = len(word) - tail
    w = np.ones(n)
    w[0] = 1 / 3
    return int(rng.choice(n, p=w / w.sum()))


def slip(name: str, kind: str, rng: np.random.Generator) -> tuple[str, str]:
    """One slip of `kind` in `name`, and the kind done (`double` where `kind` does not apply)."""
    return _slip(name, kind, rng)


def _slip(name: str, kind: str, rng: np.random.Generator) -> tuple[str, str]:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if kind == "two_slips":
        first, _ = _slip(name, str(rng.choice(["near_key", "swap", "drop", "double"])), rng)
        return _slip(first, str(rng.choice(["near_key", "drop", "double"])), rng)[0], kind
    if kind == "separator":
        if " " in name:
            i = name.index(" ")
            out = name[:i] + name[i + 1 :] if rng.random() < 0.6 else name.replace(" ", str(rng.choice(["_", "-", "  "])))
            return out, kind
        i = int(rng.integers(1, len(name)))
        return name[:i] + " " + name[i:], kind
    word_pos = letters[_position("".join(name[i] for i in letters), rng)]
    c = name[word_pos]
    if kind == "near_key" and c in NEAR:
        return name[:word_pos] + str(rng.choice(NEAR[c])) + name[word_pos + 1 :], kind
    if kind == "swap" and word_pos + 1 == len(name):
        word_pos, c = word_pos - 1, name[word_pos - 1]  # the last letter swaps with the one before
    if kind == "swap" and name[word_pos + 1].isalpha() and name[word_pos + 1] != c:
        return name[:word_pos] + name[word_pos + 1] + c + name[word_pos + 2 :], kind
    if kind == "drop" and len(letters) > 2:
        return name[:word_pos] + name[word_pos + 1 :], kind
    if kind == "extra_near" and c in NEAR:
        extra = str(rng.choice(NEAR[c]))
        return name[:word_pos] + (extra + c if rng.random() < 0.5 else c + extra) + name[word_pos + 1 :], kind
    if kind == "double":
        return name[:word_pos] + c + name[word_pos:], kind
    if kind == "other_letter":
        return name[:word_pos] + str(rng.choice([x for x in "abcdefghijklmnopqrstuvwxyz" if x != c])) + name[word_pos + 1 :], kind
    return _slip(name, "double", rng)  # the slip did not apply (a last letter to swap, ...): double instead


def cosmetic(name: str, kind: str, rng: np.random.Generator) -> str:
    if kind == "plural":
        return name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")
    if kind == "case":
        return "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    if kind == "digits":
        return name + str(rng.choice(["", "_", " "])) + str(int(rng.integers(1, 12)))
    return name.replace(" ", "_")


TYPO_KINDS = ("typo", "case", "plural", "digits", "underscore")
MUST_BE_OTHER = ("other_word", "other_typo")


def read_set(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def measure(resolver: Resolver, rows: Sequence[dict[str, str]]) -> dict[str, tuple[int, int]]:
    """(right, total) for `typos` (every damaged class name), `short` (of names of 4 letters or fewer),
    `false_matches` (must-be-other names sent to a class), `rare_words_matched` (rare words sent to a
    class), and per slip kind."""
    got = resolver.resolve([r["raw_label"] for r in rows])
    out: dict[str, tuple[int, int]] = {}

    def count(key: str, ok: bool) -> None:
        a, n = out.get(key, (0, 0))
        out[key] = (a + ok, n + 1)

    for r, res in zip(rows, got):
        if r["kind"] in TYPO_KINDS:
            ok = res.class_name == r["truth"]
            count("typos", ok)
            count(r["slip"], ok)
            if len(r["name"].replace(" ", "")) <= 4:
                count("short", ok)
        elif r["kind"] in MUST_BE_OTHER:
            count("false_matches", res.class_name != "other")
        elif r["kind"] == "rare_word":  # typo_fresh.csv: no truth can be claimed, reported apart
            count("rare_words_matched", res.class_name != "other")
    return out


def _osa1(a: str, b: str) -> bool:
    from rapidfuzz.distance import OSA

    return OSA.distance(a, b) == 1


def make(seglistall: Path, seed: int, heldout: bool) -> list[dict[str, str]]:
    import pandas as pd
    from wordfreq import top_n_list, zipf_frequency

    from sunprep.labels.canonical import canonical
    from tests.data.label_testset import full_resolver

    rng = np.random.default_rng(seed)
    text = seglistall.read_bytes().decode("utf-8-sig")
    full = full_resolver(text)
    table = pd.read_csv(seglistall, keep_default_na=False, dtype=str)
    table["line"] = np.arange(len(table)) + 2
    table["key"] = table["original_labels"].map(canonical)
    table["n"] = pd.to_numeric(table["number of images"], errors="coerce").fillna(0.0)
    table = table[table["key"] != ""]
    table["truth"] = [r.class_name for r in full.resolve(list(table["original_labels"]))]
    known = set(table["key"])
    spelt = table[table["key"] == table["clean_label"].map(canonical)]

    def real(word: str) -> bool:
        return word.replace(" ", "") in known or word in known or all(zipf_frequency(w, "en") >= 3.0 for w in word.split())

    top = spelt[spelt["truth"] != "other"].sort_values("n", ascending=False).drop_duplicates("key").head(60)
    tail = spelt[(spelt["truth"] != "other") & ~spelt["key"].isin(top["key"])].drop_duplicates("key")
    rows: list[dict[str, str]] = []
    kinds, probs = zip(*SLIPS)
    p = np.asarray(probs) / sum(probs)
    short_top = top[top["key"].str.replace(" ", "").str.len() <= 4]
    dropped = 0

    def add_typo(name: str, truth: str, kind: str = "typo") -> bool:
        nonlocal dropped
        for _ in range(20):
            s = str(rng.choice(kinds, p=p))
            if s == "two_slips" and len(name) < 8:
                continue
            damaged, s = slip(name, s, rng)
            if canonical(damaged) == canonical(name):
                continue
            if real(canonical(damaged)):
                dropped += 1
                continue
            rows.append({"raw_label": damaged, "kind": kind, "truth": truth, "holdout": "", "name": name, "slip": s})
            return True
        return False

    n_short = 0
    while n_short < N_TYPOS * 0.35:  # names of 4 letters or fewer, by how often they are used
        r = short_top.sample(1, weights=np.sqrt(short_top["n"]), random_state=rng).iloc[0]
        n_short += add_typo(r["key"], r["truth"])
    while len(rows) < N_TYPOS * 0.7:
        r = top.sample(1, weights=np.sqrt(top["n"]), random_state=rng).iloc[0]
        add_typo(r["key"], r["truth"])
    for r in tail.sample(frac=1.0, random_state=rng).itertuples():
        if len(rows) >= N_TYPOS:
            break
        add_typo(r.key, r.truth)
    used = {row["name"] for row in rows}
    rest = tail[~tail["key"].isin(used)].sample(N_COSMETIC, random_state=rng)
    for r in rest.itertuples():
        kind = str(rng.choice(["case", "digits", "underscore"] + ([] if r.key.endswith("s") else ["plural"])))
        rows.append({"raw_label": cosmetic(r.key, kind, rng), "kind": kind, "truth": r.truth, "holdout": str(r.line),
                     "name": r.key, "slip": kind})
    others = spelt[(spelt["truth"] == "other") & (spelt["key"].str.len() >= 3)].drop_duplicates("key")
    for r in others.sample(N_OTHER_TYPOS, random_state=rng).itertuples():
        add_typo(r.key, "other", "other_typo")
    # Near-miss real words: wordfreq's 30,000 most common English words one edit from a frequent class name.
    words = [w for w in top_n_list("en", 30000) if w.isalpha() and w.isascii() and len(w) >= 3]
    frequent = list(top["key"])
    near = sorted({w for w in words for name in frequent if " " not in name and _osa1(w, name)} - REJECTED)
    near = [w for w in near if full.resolve([w])[0].class_name == "other"]
    picked = [w for w in near if w not in ISSUE_WORDS]
    order = np.random.default_rng(0).permutation(len(picked))  # one split for both sets: disjoint halves
    half = [picked[i] for i in order[: len(picked) // 2]] if heldout else [picked[i] for i in order[len(picked) // 2 :]]
    for w in sorted(set(half) | (set(ISSUE_WORDS) if heldout else set())):
        lines = table.loc[table["key"] == w, "line"]
        for line in lines if len(lines) else [""]:
            rows.append({"raw_label": w, "kind": "other_word", "truth": "other", "holdout": str(line), "name": w,
                         "slip": "real_word"})
    print(f"seed {seed}: {len(rows)} rows, {dropped} damaged names dropped as real names or words", file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    for file, seed in SETS.items():
        made = make(Path(sys.argv[1]), seed, heldout=file == "typo_heldout.csv")
        with (HERE / file).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, ["raw_label", "kind", "truth", "holdout", "name", "slip"], lineterminator="\n")
            w.writeheader()
            w.writerows(made)
        print(f"{HERE / file}: {len(made)} rows")
