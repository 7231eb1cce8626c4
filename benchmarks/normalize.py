"""Speed and accuracy of label resolution, measured on the real seglistall.csv.

    python benchmarks/normalize.py [--seglistall ../shared/data/seglistall.csv] [--sweep]

Speed: resolves every raw name of the table plus 10,000 noisy variants (typos, plurals, case,
digits, `_`) with a fresh resolver on one core, against a floor measured in the same run: a
plain dict lookup of the same names (what a lower-case-and-look-up pipeline costs).
Accuracy: the held-out test set of tests/data/label_testset.csv (see tests/data/label_testset.py);
`--sweep` repeats it for every scorer and several cut-offs, the measurement the defaults in
`sunprep.labels.resolve.FuzzyConfig` were chosen by.
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
from sunprep.labels.resolve import SCORERS, FuzzyConfig  # noqa: E402
from tests.data.label_testset import (  # noqa: E402
    cosmetic,
    evaluate,
    full_resolver,
    held_out_resolver,
    holdout_lines,
    read_testset,
    typo,
)

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

    rows = read_testset()
    lines = holdout_lines(rows)
    configs = [FuzzyConfig()]
    if args.sweep:
        configs = [FuzzyConfig(s, c, min(c, 60.0)) for s in SCORERS for c in (70.0, 75.0, 80.0, 85.0, 90.0)]
    print("\naccuracy on tests/data/label_testset.csv (held-out rows of seglistall.csv):")
    for cfg in configs:
        res = evaluate(held_out_resolver(text, lines, cfg), rows)
        (a, n), (f, m) = res["accuracy"], res["false_match"]
        kinds = " ".join(f"{k}={x / y * 100:.0f}%" for k, (x, y) in res.items() if k not in ("accuracy", "false_match"))
        print(f"  {cfg.scorer:<16} cutoff {cfg.cutoff:4.0f}: accuracy {100 * a / n:5.1f}% ({a}/{n}), "
              f"false matches {100 * f / m:4.2f}% ({f}/{m}) | {kinds}")

    dist = class_distribution(args.seglistall)
    print("\nclass shares weighted by `number of images` (seglistall alone -> with mappings/ and rules):")
    for r in dist.itertuples():
        print(f"  {r.class_name:<15} {100 * r.before:6.2f}% -> {100 * r.after:6.2f}%")


if __name__ == "__main__":
    main()
