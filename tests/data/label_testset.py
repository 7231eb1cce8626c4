"""The labelled accuracy test set for label resolution, built from seglistall.csv itself.

Rows of the real table are held out; their raw names get realistic damage (one-character edits,
doubled or dropped letters, plurals, case, instance digits, `_` for spaces) and must still reach
the class the full table gives them. Compounds of a modifier and a class noun must reach the
noun's class; real objects outside the 39 classes and non-words must stay `other`.

`python tests/data/label_testset.py SEGLISTALL.csv` rewrites `label_testset.csv` beside this file
(committed, so a test run only evaluates). `held_out_resolver` rebuilds the table without the
held-out rows, so a held-out name is only ever found by fuzzy matching or rules, never by lookup.
"""

from __future__ import annotations

import csv
import string
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sunprep.labels.canonical import canonical
from sunprep.labels.classes import load_classes
from sunprep.labels.labelmap import build_resolver
from sunprep.labels.resolve import FuzzyConfig, Resolver
from sunprep.labels.tables import parse_mapping

HERE = Path(__file__).resolve().parent
TESTSET = HERE / "label_testset.csv"
SEED = 4
N_CLASS_ROWS = 300  # held-out rows whose truth is one of the 38 real classes
N_OTHER_ROWS = 200  # held-out rows whose truth is `other`
ACCURACY_KINDS = ("typo", "plural", "case", "digits", "underscore", "compound", "compound_typo")
N_MISSPELT_ROWS = 100  # held-out rows whose raw name is itself a typo, damaged once more (reported, no target)
OTHER_KINDS = ("other_typo", "other_word", "nonword")

MODIFIERS = (
    "wooden", "small", "white", "old", "metal", "plastic", "red", "big", "kitchen", "glass", "round",
    "corner", "black", "tall", "brown", "grey", "blue", "antique", "folding", "broken",
)
HEADS = (
    "chair", "table", "lamp", "cabinet", "shelf", "sofa", "bed", "desk", "door", "window", "pillow",
    "box", "bag", "towel", "curtain", "mirror", "sink", "toilet", "bathtub", "tv", "computer", "laptop",
    "books", "couch", "cupboard", "rug", "painting", "poster", "dresser", "counter", "bookshelf", "blinds",
    "television", "nightstand", "whiteboard", "fridge", "refrigerator", "cushion", "monitor", "picture",
)
# Real objects outside the 39 classes; some are rows of seglistall (held out here), most are not.
OTHER_WORDS = (
    "stapler", "bottle", "cup", "plant", "keyboard", "mouse", "printer", "telephone", "clock", "vase",
    "bowl", "plate", "microwave", "stove", "oven", "faucet", "speaker", "fan", "heater", "toaster",
    "kettle", "scissors", "pencil", "pen", "eraser", "calculator", "umbrella", "guitar", "piano", "candle",
    "harmonica", "saxophone", "trombone", "violin", "accordion", "skateboard", "snowboard", "surfboard",
    "hammer", "screwdriver", "wrench", "pliers", "chisel", "ladder", "bucket", "broom", "mop", "sponge",
    "toothbrush", "toothpaste", "shampoo", "razor", "comb", "hairdryer", "thermometer", "stethoscope",
    "microscope", "telescope", "binoculars", "compass", "globe", "trophy", "medal", "statue", "sculpture",
    "aquarium", "birdcage", "kennel", "leash", "saddle", "bicycle", "scooter", "tricycle", "helmet",
    "glove", "sock", "boot", "sandal", "slipper", "necklace", "bracelet", "earring", "wallet", "key",
    "padlock", "hinge", "nail", "screw", "bolt", "washer", "dryer", "dishwasher", "blender", "mixer",
    "spatula", "ladle", "whisk", "colander", "grater", "peeler", "corkscrew", "teapot", "pitcher", "jug",
    "basket", "hamper", "tray", "coaster", "napkin", "candlestick", "ashtray", "lighter", "matchbox",
    "radiator", "thermostat", "outlet", "switch", "vent", "pipe", "wire", "cable", "router", "modem",
    "projector", "camera", "tripod", "microphone", "headphones", "radio", "stereo", "turntable",
    "pineapple", "banana", "apple", "orange", "tomato", "cucumber", "pumpkin", "sandwich", "pizza",
)


def _edit(word: str, rng: np.random.Generator) -> str:
    """One realistic keyboard slip: substitute, insert, delete, transpose, double or drop a letter."""
    letters = string.ascii_lowercase
    i = int(rng.integers(1, len(word) - 1))  # first and last letters survive most real typos
    kind = rng.choice(["sub", "ins", "del", "swap", "double"])
    if kind == "sub":
        return word[:i] + rng.choice(list(letters.replace(word[i], ""))) + word[i + 1 :]
    if kind == "ins":
        return word[:i] + rng.choice(list(letters)) + word[i:]
    if kind == "del":
        return word[:i] + word[i + 1 :]
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def typo(name: str, rng: np.random.Generator) -> str:
    """One slip in the longest word (short words are too ambiguous to typo: `bed`/`bad`/`bag`)."""
    words = name.split(" ")
    j = max(range(len(words)), key=lambda k: len(words[k]))
    words[j] = _edit(words[j], rng)
    return " ".join(words)


def cosmetic(name: str, kind: str, rng: np.random.Generator) -> str:
    """Damage that canonicalisation and plural handling must undo."""
    if kind == "plural":
        return name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s")
    if kind == "case":
        return "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    if kind == "digits":
        return name + rng.choice(["", "_", " "]) + str(int(rng.integers(1, 12)))
    return name.replace(" ", "_")


def full_resolver(seglistall_text: str, fuzzy: FuzzyConfig = FuzzyConfig()) -> Resolver:
    return build_resolver([parse_mapping(seglistall_text, "seglistall.csv", load_classes())], fuzzy=fuzzy)


def held_out_resolver(seglistall_text: str, lines: set[int], fuzzy: FuzzyConfig = FuzzyConfig()) -> Resolver:
    """The resolver without the held-out rows (1-based file line numbers)."""
    kept = [ln for i, ln in enumerate(seglistall_text.splitlines(keepends=True), start=1) if i not in lines]
    return full_resolver("".join(kept), fuzzy)


def make(seglistall: Path) -> list[dict[str, str]]:
    """The test rows: raw_label, kind, truth (class name), holdout (seglistall line or empty)."""
    import pandas as pd

    rng = np.random.default_rng(SEED)
    text = seglistall.read_bytes().decode("utf-8-sig")
    full = full_resolver(text)
    table = pd.read_csv(seglistall, keep_default_na=False, dtype=str)
    table["line"] = np.arange(len(table)) + 2
    table["key"] = table["original_labels"].map(canonical)
    table["truth"] = [full.classes.names[full.classify(canonical(c))[0]] for c in table["clean_label"]]
    usable = table[(table["key"].str.len() >= 5) & (table["number of images"] != "")]
    other_words = set(OTHER_WORDS)
    usable = usable[~usable["key"].isin(other_words)]
    # One slip on a correctly spelt name; names already misspelt in the table get their own kind.
    spelt = usable["key"] == usable["clean_label"].map(canonical)
    picked = pd.concat([
        usable[spelt & (usable["truth"] != "other")].sample(N_CLASS_ROWS, random_state=SEED),
        usable[spelt & (usable["truth"] == "other")].sample(N_OTHER_ROWS, random_state=SEED),
    ])
    misspelt = usable[~spelt & (usable["truth"] != "other")].sample(N_MISSPELT_ROWS, random_state=SEED)
    rows: list[dict[str, str]] = []
    for raw, truth, line in zip(misspelt["original_labels"], misspelt["truth"], misspelt["line"]):
        rows.append({"raw_label": typo(canonical(raw), rng), "kind": "misspelt_typo", "truth": truth, "holdout": str(line)})
    for raw, truth, line in zip(picked["original_labels"], picked["truth"], picked["line"]):
        name = canonical(raw)
        rows.append({"raw_label": typo(name, rng), "kind": "typo" if truth != "other" else "other_typo",
                     "truth": truth, "holdout": str(line)})
        if truth != "other":
            kinds = ["case", "digits", "underscore"] + ([] if name.endswith("s") else ["plural"])
            kind = str(rng.choice(kinds))
            rows.append({"raw_label": cosmetic(name, kind, rng), "kind": kind, "truth": truth, "holdout": str(line)})
    for word in OTHER_WORDS:  # held out too, so that they are met as unseen names
        for line in table.loc[table["key"] == word, "line"]:
            rows.append({"raw_label": word, "kind": "other_word", "truth": "other", "holdout": str(line)})
        if not (table["key"] == word).any():
            rows.append({"raw_label": word, "kind": "other_word", "truth": "other", "holdout": ""})
    for head in HEADS:
        truth = full.classes.names[full.classify(head)[0]]
        for mod in rng.choice(MODIFIERS, 3, replace=False):
            rows.append({"raw_label": f"{mod} {head}", "kind": "compound", "truth": truth, "holdout": ""})
        if len(head) >= 5:
            mod = str(rng.choice(MODIFIERS))
            rows.append({"raw_label": f"{mod} {_edit(head, rng)}", "kind": "compound_typo", "truth": truth, "holdout": ""})
    for _ in range(150):
        n = int(rng.integers(4, 11))
        rows.append({"raw_label": "".join(rng.choice(list(string.ascii_lowercase), n)), "kind": "nonword",
                     "truth": "other", "holdout": ""})
    return rows


def read_testset(path: Path = TESTSET) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def evaluate(resolver: Resolver, rows: Sequence[dict[str, str]]) -> dict[str, tuple[int, int]]:
    """(correct, total) per kind, plus `accuracy` (class-truth kinds) and `false_match` (must be other).

    `false_match` counts must-be-other names resolved to a real class.
    """
    got = resolver.resolve([r["raw_label"] for r in rows])
    out: dict[str, tuple[int, int]] = {}
    for r, res in zip(rows, got):
        ok, n = out.get(r["kind"], (0, 0))
        out[r["kind"]] = (ok + (res.class_name == r["truth"]), n + 1)
    acc = [out[k] for k in ACCURACY_KINDS if k in out]
    out["accuracy"] = (sum(a for a, _ in acc), sum(n for _, n in acc))
    wrong = [(n - a, n) for k, (a, n) in out.items() if k in OTHER_KINDS]
    out["false_match"] = (sum(w for w, _ in wrong), sum(n for _, n in wrong))
    return out


def current_truth(seglistall_text: str, rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The rows with the truth of each held-out class row re-derived from today's tables.

    The truths were written by the resolver of their day; a reviewed table row since (`dust jacket`
    is books, not clothes) changes what is right, and "no drop on names already right" must be
    measured against what is right now. Must-be-other rows stay other.
    """
    full = full_resolver(seglistall_text)
    lines = seglistall_text.splitlines()
    out = []
    for r in rows:
        if r["holdout"] and r["kind"] not in OTHER_KINDS:
            clean = next(csv.DictReader([lines[0], lines[int(r["holdout"]) - 1]]))["clean_label"]
            r = {**r, "truth": full.classes.names[full.classify(canonical(clean))[0]]}
        out.append(r)
    return out


def holdout_lines(rows: Sequence[dict[str, str]]) -> set[int]:
    return {int(r["holdout"]) for r in rows if r["holdout"]}


if __name__ == "__main__":
    made = make(Path(sys.argv[1]))
    with TESTSET.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ["raw_label", "kind", "truth", "holdout"], lineterminator="\n")
        w.writeheader()
        w.writerows(made)
    print(f"{TESTSET}: {len(made)} rows")
