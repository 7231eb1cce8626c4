"""`sunprep normalize` as a pure core: collect names, resolve them, summarise, write the tables.

The resolved table (one row per raw name, with how and why it got its class) is what `export`
reads through `load_label_map(resolved=DIR)` and what `sunprep report` inspects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from sunprep.atomic import atomic_path, write_text_atomic
from sunprep.errors import BadInput
from sunprep.labels.agreement import Agreement, AgreementCounter, write_agreement
from sunprep.labels.collect import Collected, collect_dataset, read_name_list
from sunprep.labels.labelmap import build_resolver, resolved_fingerprint
from sunprep.labels.resolve import METHODS, Conflict
from sunprep.labels.tables import RESOLVED_NAME
from sunprep.sunrgbd.mat import open_seg2d
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS

ACCEPTED_NAME = "accepted.csv"  # written by `sunprep report --accept`, read back by the next normalize
COLUMNS = (
    "raw_label", "canonical", "clean_label", "class_id", "class_name", "method", "score", "matched_key",
    "decided_by", "candidates", "suggested_class", "images", "pixels", "examples",
)
TOP_UNMAPPED = 10


@dataclass(frozen=True)
class NormalizeConfig:
    mappings: tuple[Path, ...] = ()  # --mapping files in order; later ones win
    root: Path | None = None  # a dataset to collect names from ...
    labels: Path | None = None  # ... or a plain list of raw names
    out: Path | None = None  # where the resolved tables go; its accepted.csv is read back
    seg2d: Path | None = None  # with root: toolbox SUNRGBD2Dseg.mat, a label source after seg.mat
    seg2d_order: Path | None = None  # scene order of that file; default: SUNRGBDMeta.mat beside it
    agreement: bool = False  # also count the resolved classes against seg2d's official 37-class maps
    sensors: tuple[str, ...] = DEFAULT_SENSOR_FOLDERS  # sensor folders read from a SUNRGBD/ root


@dataclass
class NormalizeResult:
    table: pd.DataFrame  # COLUMNS, most pixels first
    fingerprint: str  # of the rules: what `export --mapping` with the same tables records
    mappings: list[str]  # the mapping files used, in order (accepted.csv last when present)
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    scenes: int = 0
    tracebacks: list[str] = field(default_factory=list)  # of the unexpected failures among `skipped`
    agreement: Agreement | None = None  # with cfg.agreement: sunprep's classes against the official 37
    resolved_fingerprint: str = ""  # of the table: what `export --resolved` of it records


def run_normalize(cfg: NormalizeConfig, on_step: Callable[[int, int], None] | None = None) -> NormalizeResult:
    """Resolve every collected name; a scene that cannot be read is skipped and listed."""
    if (cfg.root is None) == (cfg.labels is None):
        raise BadInput("normalize: give exactly one of --root DATA or --labels FILE")
    if cfg.seg2d is not None and cfg.root is None:
        raise BadInput(f"{cfg.seg2d}: --seg2d labels the scenes of --root; a --labels list has none")
    if cfg.agreement and (cfg.root is None or cfg.seg2d is None):
        raise BadInput("--agreement: compares the scenes of --root with the official maps of --seg2d SUNRGBD2Dseg.mat; give both")
    mappings = list(cfg.mappings)
    if cfg.out is not None and (cfg.out / ACCEPTED_NAME).is_file():
        mappings.append(cfg.out / ACCEPTED_NAME)
    resolver = build_resolver(mappings)
    classes = resolver.classes
    counter = AgreementCounter() if cfg.agreement else None
    collected: Collected = collect_names(cfg, on_step, counter)
    names = sorted(collected.names)
    rows = []
    for res in resolver.resolve(names):
        count = collected.names[res.raw_label]
        rows.append({**asdict(res), "images": count.images, "pixels": count.pixels, "examples": "; ".join(count.examples)})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.sort_values(["pixels", "images", "raw_label"], ascending=[False, False, True], kind="stable")
    agreement = counter.finish(dict(zip(table["raw_label"], table["class_id"].astype(int))), classes) if counter else None
    return NormalizeResult(
        table.reset_index(drop=True), resolver.fingerprint(), [str(p) for p in mappings], resolver.conflicts,
        [*collected.warnings, *resolver.warnings], collected.skipped, collected.scenes, collected.tracebacks, agreement,
        resolved_fingerprint(table),
    )


def collect_names(cfg: NormalizeConfig, on_step: Callable[[int, int], None] | None, counter: AgreementCounter | None = None) -> Collected:
    """The names of --root (through the toolbox file too, when given) or of the --labels list;
    with `counter`, the official maps are counted against the raw ones in the same pass."""
    if cfg.root is None:
        assert cfg.labels is not None  # the CLI demands --root or --labels
        return read_name_list(cfg.labels)
    if cfg.seg2d is None:
        return collect_dataset(cfg.root, on_step, sensors=cfg.sensors)
    with open_seg2d(cfg.seg2d, cfg.seg2d_order) as seg2d:
        if counter is not None and not seg2d.has_official:
            raise BadInput(f"{cfg.seg2d}: no seglabel field (the official 37-class maps) to compare with")
        return collect_dataset(cfg.root, on_step, seg2d, counter, cfg.sensors)


def weights(table: pd.DataFrame) -> pd.Series:
    """Pixels when the names came from a dataset, else occurrences (a plain list has no pixels)."""
    return table["pixels"] if table["pixels"].sum() > 0 else table["images"]


def summarise(result: NormalizeResult) -> dict:
    """Names and weight share per method and per class, and the heaviest unmapped names."""
    table = result.table
    w = weights(table)
    total = float(w.sum()) or 1.0
    unit = "pixels" if table["pixels"].sum() > 0 else "occurrences"
    by_method = {m: {"names": int((table["method"] == m).sum()), "share": float(w[table["method"] == m].sum() / total)} for m in METHODS}
    by_class = {str(k): float(v / total) for k, v in w.groupby(table["class_name"]).sum().sort_values(ascending=False).items()}
    weighted = table.assign(weight=w)
    other = weighted[weighted["method"] == "other"].sort_values("weight", ascending=False, kind="stable")
    unmapped = [
        {"raw_label": r.raw_label, unit: int(r.weight), "images": int(r.images), "candidates": r.candidates}
        for r in other.head(TOP_UNMAPPED).itertuples()
    ]
    return {
        "names": len(table), "scenes": result.scenes, "weighted_by": unit, "methods": by_method, "classes": by_class,
        "top_unmapped": unmapped, "conflicts": len(result.conflicts), "skipped": len(result.skipped),
        "fingerprint": result.fingerprint,
        "resolved_fingerprint": result.resolved_fingerprint,
    }


def write_outputs(result: NormalizeResult, cfg: NormalizeConfig, out: Path) -> list[Path]:
    """resolved.parquet + resolved.csv (what export reads), unmapped.csv, conflicts.csv, normalize.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / RESOLVED_NAME, out / "resolved.csv", out / "unmapped.csv", out / "conflicts.csv", out / "normalize.json"]
    with atomic_path(paths[0]) as tmp:
        result.table.to_parquet(tmp, index=False)
    write_text_atomic(paths[1], result.table.to_csv(index=False, lineterminator="\n"))
    unmapped = result.table[result.table["method"] == "other"]
    write_text_atomic(paths[2], unmapped.to_csv(index=False, lineterminator="\n"))
    conflicts = pd.DataFrame([asdict(c) for c in result.conflicts], columns=list(Conflict.__dataclass_fields__))
    write_text_atomic(paths[3], conflicts.to_csv(index=False, lineterminator="\n"))
    meta = {
        "config": {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "mappings": result.mappings, "summary": summarise(result), "skipped": result.skipped, "warnings": result.warnings,
        "tracebacks": result.tracebacks,
    }
    if result.agreement is not None:
        meta["agreement"] = result.agreement.summary()
        paths[4:4] = write_agreement(result.agreement, out)
    write_text_atomic(out / "normalize.json", json.dumps(meta, indent=2) + "\n")
    return paths
