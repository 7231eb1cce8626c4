"""Class shares of a seglistall-format table, before and after the project's own rules.

Weighted by the table's `number of images`: the share of annotated instances each class gets.
"Before" is what the table says by itself (a clean label that is a seg37 class); "after" is the
full resolution, so the difference is what mappings/ and the head-noun rule recover from `other`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sunprep.labels.canonical import canonical
from sunprep.labels.classes import load_classes
from sunprep.labels.labelmap import build_resolver
from sunprep.labels.tables import read_mapping


def class_distribution(seglistall: Path, mappings: Sequence[Path] = ()) -> pd.DataFrame:
    """One row per class (`class_name, before, after`, shares summing to 1), table order."""
    classes = load_classes()
    seg = read_mapping(seglistall, classes)
    resolver = build_resolver([seg, *mappings])
    rows = pd.read_csv(seglistall, keep_default_na=False, dtype=str, encoding="utf-8-sig")
    rows = rows[rows["original_labels"].str.strip() != ""]
    weight = pd.to_numeric(rows["number of images"], errors="coerce").fillna(0.0).to_numpy()
    other = classes.id_of("other")
    before = [int(seg.clean_to_class[c].target) if c in seg.clean_to_class else other for c in rows["clean_label"].map(canonical)]
    after = [r.class_id for r in resolver.resolve(list(rows["original_labels"]))]
    total = weight.sum()
    out = pd.DataFrame({"class_name": list(classes.names)})
    for col, ids in (("before", before), ("after", after)):
        out[col] = pd.Series(weight).groupby(pd.Series(ids)).sum().reindex(range(len(classes)), fill_value=0.0).to_numpy() / total
    return out
