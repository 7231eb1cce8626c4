"""The label map other commands use: raw names of a scene -> class ids, with a fingerprint.

`export` normalises a scene as `label_map.lut(scene.names)[scene.labels]`; the fingerprint goes
into its manifest, so two exports can tell whether they used the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sunprep.labels.classes import VOID, ClassTable, load_classes
from sunprep.labels.resolve import FuzzyConfig, Resolver
from sunprep.labels.tables import (
    MappingTable,
    read_mapping,
    read_project_tables,
    read_resolved,
    resolved_rules,
)


@dataclass(frozen=True)
class LabelMap:
    """Resolved rules over a class table; names never seen before are resolved on first use."""

    classes: ClassTable
    fingerprint: str  # sha256 hex of the resolved rules: goes into export manifests
    resolver: Resolver = field(repr=False, compare=False)

    def class_ids(self, raw_names: Sequence[str]) -> np.ndarray:
        """int16 class id (0..len(classes)-1) per raw name, in order."""
        names = list(raw_names)
        return np.fromiter((r.class_id for r in self.resolver.resolve(names)), np.int16, len(names))

    def lut(self, raw_names: Sequence[str]) -> np.ndarray:
        """int16 lookup for a 1-based label map: `lut[0]` is void (-1), `lut[k]` the class of name k."""
        out = np.empty(len(raw_names) + 1, np.int16)
        out[0] = VOID
        out[1:] = self.class_ids(raw_names)
        return out


def load_label_map(resolved: Path | None = None, mappings: Sequence[Path] = ()) -> LabelMap:
    """The project's tables, then `mappings` in order (later wins), then a resolved table on top.

    `resolved` is a `sunprep normalize --out` folder (or its table file); its decisions are
    replayed as `raw_label -> class` rules, and unseen names fall through to the same rules.
    """
    resolver = build_resolver(mappings, resolved)
    return LabelMap(resolver.classes, resolver.fingerprint(), resolver)


def resolved_fingerprint(table: pd.DataFrame) -> str:
    """The fingerprint `load_label_map(resolved=...)` gives this table once written: what an export
    with `--resolved` records, known to `normalize` before it writes anything."""
    return build_resolver([resolved_rules(table, load_classes(), "resolved table")]).fingerprint()


def build_resolver(
    mappings: Sequence[Path | MappingTable] = (), resolved: Path | None = None, fuzzy: FuzzyConfig = FuzzyConfig()
) -> Resolver:
    """The one layer stack every command resolves with: classes.csv, mappings/, `mappings`, `resolved`.

    `mappings` are files (read here) or tables already parsed (a benchmark's edited seglistall).
    """
    classes = load_classes()
    layers = [read_project_tables(classes)]
    layers += [m if isinstance(m, MappingTable) else read_mapping(Path(m), classes) for m in mappings]
    if resolved is not None:
        layers.append(read_resolved(Path(resolved), classes))
    return Resolver(classes, layers, fuzzy)
