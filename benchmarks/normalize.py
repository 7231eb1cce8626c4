"""Speed and accuracy of label resolution, measured on the real seglistall.csv.

    python benchmarks/normalize.py [--seglistall ../shared/data/seglistall.csv] [--sweep]

Speed: resolves every raw name of the table plus 10,000 noisy variants (typos, plurals, case,
digits, `_`) with a fresh resolver on one core, against a floor measured in the same run: a
plain dict lookup of the same names (what a lower-case-and-look-up pipeline costs).
Accuracy, the new method beside the previous one (`PREVIOUS`: no single-slip rule, no word guard,
names under 4 letters never matched), on two held-out typo sets made differently,
tests/data/typo_heldout.csv and tests/data/typo_fresh.csv (typos, typos of names of 4 letters or
fewer, false matches; for the second, rare English words apart) and on the old set tests/data/label_testset.csv
(truths from today's tables; "lost" counts names the previous method got right and the new one
does not). `--sweep` measures the single-slip settings on the dev set tests/data/typo_dev.csv, the
measurement the defaults in `sunprep.labels.resolve.FuzzyConfig` are checked by.
Distribution: class shares weighted by `number of images`, before and after the project's rules.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sunprep.labels.canonical import canonical, singulars  # noqa: E402
from sunprep.labels.distribution import class_distribution  # noqa: E402
from sunprep.labels.resolve import FuzzyConfig  # noqa: E402
from tests.data.label_testset import (  # noqa: E402
    ACCURACY_KINDS,
    OTHER_KINDS,
    cosmetic,
    current_truth,
    full_resolver,
    held_out_resolver,
    holdout_lines,
    read_testset,
    typo,
)
from tests.data.typo_testset import measure, read_set  # noqa: E402

PREVIOUS = FuzzyConfig(min_length=4, single_edit=False, word_count=0)  # the method before issue 10

N_NOISY = 10_000
SEED = 7


def noisy_names(names: list[str], n: int, rng: np.random.Generator) -> list[str]:
    out = []
    for i in rng.integers(0, len(names), n):
        name = canonical(names[i]) or "x"
        kind = rng.choice(["typo", "typo", "plural", "case", "digits", "underscore"])
        out.append(typo(name, rng) if kind == "typo" and len(name) >= 5 else cosmetic(name, str(kind), rng))
    return out


def best_of(runs: int, fn) -> float:
    """Least CPU seconds of the process over `runs`: on a shared machine wall time also counts waiting."""
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seglistall", type=Path, default=ROOT.parent / "shared" / "data" / "seglistall.csv")
    parser.add_argument("--sweep", action="store_true", help="accuracy for every scorer and cut-off")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    text = args.seglistall.read_bytes().decode("utf-8-sig")
    import pandas as pd

    raw = [r for r in pd.read_csv(args.seglistall, keep_default_na=False, dtype=str)["original_labels"] if r.strip()]
    names = raw + noisy_names(raw, N_NOISY, np.random.default_rng(SEED))

    def cold() -> None:
        singulars.cache_clear()  # a process-wide cache: every timed run starts cold
        full_resolver(text)

    def cold_resolve() -> None:
        singulars.cache_clear()
        full_resolver(text).resolve(names)

    build = best_of(5, cold)
    resolve = best_of(5, cold_resolve) - build
    done = full_resolver(text).resolve(names)
    lookup = {n: r.class_id for n, r in zip(names, done)}
    floor = best_of(20, lambda: [lookup.get(n.lower(), 38) for n in names])
    methods = pd.Series([r.method for r in done]).value_counts().to_dict()
    print(f"names: {len(names)} ({len(raw)} raw of seglistall.csv + {N_NOISY} noisy), {len(set(names))} distinct")
    print("CPU time of this process, best of 5 cold runs:")
    print(f"build resolver:          {build * 1000:8.1f} ms")
    print(f"resolve all names:       {resolve * 1000:8.1f} ms  (target < 1000 ms on one core)")
    print(f"floor, dict lookup:      {floor * 1000:8.1f} ms  -> resolve is {resolve / floor:.0f}x the floor")
    print(f"methods: {methods}")

    new, old = FuzzyConfig(), PREVIOUS

    def pct(x: tuple[int, int]) -> str:
        return f"{100 * x[0] / x[1]:5.1f}% ({x[0]}/{x[1]})"

    print("\nheld-out typos (targets: typos >= 95%, <= 4 letters >= 85%, false <= 1%):")
    for file in ("typo_heldout.csv", "typo_fresh.csv"):
        heldout = read_set(file)
        print(f"  tests/data/{file}")
        print(f"  {'method':<9} {'typos':>17} {'<= 4 letters':>17} {'false matches':>17}")
        for label, cfg in (("previous", old), ("new", new)):
            m = measure(held_out_resolver(text, holdout_lines(heldout), cfg), heldout)
            rare = f"   rare words matched (no target): {pct(m['rare_words_matched'])}" if "rare_words_matched" in m else ""
            print(f"  {label:<9} {pct(m['typos']):>17} {pct(m['short']):>17} {pct(m['false_matches']):>17}{rare}")
    rows = [r for r in current_truth(text, read_testset()) if r["kind"] in ACCURACY_KINDS + OTHER_KINDS]
    names = [r["raw_label"] for r in rows]
    got = {label: held_out_resolver(text, holdout_lines(rows), cfg).resolve(names) for label, cfg in (("previous", old), ("new", new))}
    print("\nold held-out set, tests/data/label_testset.csv (truths from today's tables):")
    for label, res in got.items():
        ok = [g.class_name == r["truth"] for r, g in zip(rows, res)]
        acc = [o for o, r in zip(ok, rows) if r["kind"] in ACCURACY_KINDS]
        bad = [not o for o, r in zip(ok, rows) if r["kind"] in OTHER_KINDS]
        print(f"  {label:<9} accuracy {pct((sum(acc), len(acc)))}, false matches {pct((sum(bad), len(bad)))}")
    lost = [r["raw_label"] for r, p, n in zip(rows, got["previous"], got["new"]) if p.class_name == r["truth"] != n.class_name]
    print(f"  right before, wrong now: {len(lost)} {lost}")
    if args.sweep:
        dev = read_set("typo_dev.csv")
        print("\nsweep on the dev set, tests/data/typo_dev.csv:")
        for wc in (300, 1000, 3000):
            for dom in (0.6, 0.8, 0.9):
                for rare in (0.1, 0.3):
                    cfg = FuzzyConfig(word_count=wc, dominance=dom, rare_slip=rare)
                    m = measure(held_out_resolver(text, holdout_lines(dev), cfg), dev)
                    print(f"  word_count {wc:5d} dominance {dom:.1f} rare_slip {rare:.1f}: typos {pct(m['typos'])}, "
                          f"<= 4 letters {pct(m['short'])}, false {pct(m['false_matches'])}")

    dist = class_distribution(args.seglistall)
    print("\nclass shares weighted by `number of images` (seglistall alone -> with mappings/ and rules):")
    for r in dist.itertuples():
        print(f"  {r.class_name:<15} {100 * r.before:6.2f}% -> {100 * r.after:6.2f}%")


if __name__ == "__main__":
    main()
