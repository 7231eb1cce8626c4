"""Raw object names onto the 39 classes, in two stages, each step recorded.

Stage 1, raw name -> clean label: exact lookups of the canonical form and its spelling variants
(instance digits dropped, plural, spaces removed), then a compound whose head noun is known,
then one batched fuzzy match against every known raw and clean name.
Stage 2, clean label -> class: the layered `clean_label -> class` rules (seg37 rows of
seglistall, the project's tables in mappings/, user CSVs), then the compound's head noun
(`coffee table` -> `table`); anything else is `other`.
Later layers win over earlier ones; a key that a later layer changes is kept as a `Conflict`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from sunprep.labels.canonical import canonical, head_phrase, singulars, strip_instance, suffixes
from sunprep.labels.classes import ClassTable
from sunprep.labels.tables import Entry, MappingTable

METHODS = ("exact", "fuzzy", "rule", "user", "other")
SCORERS: dict[str, Callable[..., float]] = {
    "ratio": fuzz.ratio,  # normalised Indel similarity: one edit in a 6-letter word scores ~83-92
    "levenshtein": Levenshtein.normalized_similarity,
    "osa": OSA.normalized_similarity,  # Levenshtein that counts a swap of neighbours as one edit
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "wratio": fuzz.WRatio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_ratio": fuzz.partial_ratio,
}
_SCALE = {"levenshtein": 100.0, "osa": 100.0, "jaro_winkler": 100.0}  # scorers reporting 0..1 are shown 0..100 like the others
_CHUNK = 256  # fuzzy queries per cdist call: bounds the score matrix to ~256 x keys float32


@dataclass(frozen=True)
class FuzzyConfig:
    """Chosen by measurement on tests/data/label_testset.csv (see benchmarks/normalize.py --sweep)."""

    scorer: str = "osa"
    cutoff: float = 80.0  # accept the best key at or above this score: one slip in five letters
    floor: float = 60.0  # report candidates down to this score, for review
    min_length: int = 4  # shorter names are not fuzzy-matched: `tc` is as close to `tv` as to `pc`


@dataclass(frozen=True)
class Conflict:
    """A key a later mapping file maps differently from an earlier one (the later one wins)."""

    stage: str  # "raw_to_clean", "raw_to_class" or "clean_to_class"
    key: str
    old: str
    old_source: str
    new: str
    new_source: str


@dataclass(frozen=True)
class Resolution:
    """Everything known about how one raw name became a class."""

    raw_label: str
    canonical: str
    clean_label: str
    class_id: int
    class_name: str
    method: str  # one of METHODS
    score: float  # 100 for exact lookups and rules, the fuzzy score, 0 when nothing matched
    matched_key: str  # the table key that decided stage 1 (or stage 2 for rules)
    decided_by: str  # "file:line" of the deciding row; "" for `other`
    candidates: str  # top fuzzy candidates "key=score; ..." (for review)
    suggested_class: str  # the class the best candidate leads to ("" without candidates)


@dataclass(frozen=True)
class _Hit:
    clean: str
    key: str
    entry: Entry | None  # the stage-1 row; None when the name itself is a known clean label
    direct: Entry | None = None  # a raw_label -> class rule, which skips stage 2


class Resolver:
    """The merged rules of all layers, and the two-stage resolution over them."""

    def __init__(self, classes: ClassTable, layers: Sequence[MappingTable], fuzzy: FuzzyConfig = FuzzyConfig()):
        self.classes = classes
        self.fuzzy = fuzzy
        self.other_id = classes.id_of("other")
        self.conflicts: list[Conflict] = []
        self.warnings: list[str] = [w for layer in layers for w in layer.warnings]
        base = MappingTable("mappings/classes.csv")
        for cid, name in enumerate(classes.names):
            base.clean_to_class[canonical(name)] = Entry(cid, "mappings/classes.csv", "exact")
        self.raw_to_clean: dict[str, Entry] = {}
        self.raw_to_class: dict[str, Entry] = {}
        self.clean_to_class: dict[str, Entry] = {}
        for layer in (base, *layers):
            self._merge("raw_to_clean", self.raw_to_clean, layer.raw_to_clean)
            self._merge("raw_to_class", self.raw_to_class, layer.raw_to_class)
            self._merge("clean_to_class", self.clean_to_class, layer.clean_to_class)
        weights: dict[str, float] = {}
        for layer in layers:
            for key, w in layer.weights.items():
                weights[key] = max(w, weights.get(key, 0.0))
        self.clean_keys = set(self.clean_to_class) | {str(e.target) for e in self.raw_to_clean.values()}
        self._keys = sorted(set(self.raw_to_clean) | set(self.raw_to_class) | self.clean_keys)
        self._weights = np.array([weights.get(k, 0.0) for k in self._keys], np.float64)
        self._heads = sorted(k for k in self.clean_to_class if " " not in k)
        self._head_weights = np.array([weights.get(k, 0.0) for k in self._heads], np.float64)
        self._compact: dict[str, str] = {}
        for key in self._keys:
            self._compact.setdefault(key.replace(" ", ""), key)
        self._cache: dict[str, Resolution] = {}
        self._classified: dict[str, tuple[int, str, Entry | None, bool]] = {}

    def _merge(self, stage: str, into: dict[str, Entry], rules: dict[str, Entry]) -> None:
        for key, entry in rules.items():
            old = into.get(key)
            if old is not None and old.target != entry.target and old.source != "mappings/classes.csv":
                self.conflicts.append(Conflict(stage, key, str(old.target), old.source, str(entry.target), entry.source))
            into[key] = entry

    def fingerprint(self) -> str:
        """sha256 over every rule and the fuzzy settings: equal fingerprints resolve names alike."""
        rules = {
            "classes": self.classes.names,
            "fuzzy": asdict(self.fuzzy),
            "raw_to_clean": sorted((k, str(e.target)) for k, e in self.raw_to_clean.items()),
            "raw_to_class": sorted((k, int(e.target)) for k, e in self.raw_to_class.items()),
            "clean_to_class": sorted((k, int(e.target)) for k, e in self.clean_to_class.items()),
        }
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()

    # stage 2 ---------------------------------------------------------------------------------

    def classify(self, clean: str) -> tuple[int, str, Entry | None, bool]:
        """Clean label -> (class id, deciding key, deciding row, by head noun?); cached."""
        known = self._classified.get(clean)
        if known is None:
            known = self._classified[clean] = self._classify(clean)
        return known

    def _classify(self, clean: str) -> tuple[int, str, Entry | None, bool]:
        direct = self._lookup_clean(clean)
        if direct is not None:
            return int(direct[1].target), direct[0], direct[1], False
        head = head_phrase(clean)
        for phrase in ([head] if head != clean else []) + suffixes(head):
            hit = self._lookup_clean(phrase)
            if hit is not None:
                return int(hit[1].target), hit[0], hit[1], True
        return self.other_id, "", None, False

    def _lookup_clean(self, clean: str) -> tuple[str, Entry] | None:
        for form in (clean, *singulars(clean)):
            entry = self.clean_to_class.get(form)
            if entry is not None:
                return form, entry
        return None

    # stage 1 ---------------------------------------------------------------------------------

    def _lookup_raw(self, key: str) -> _Hit | None:
        """Exact lookup of a canonical name and its variants; None sends it on to fuzzy."""
        forms = [key]
        bare = strip_instance(key)
        if bare != key:
            forms.append(bare)
        forms += [s for f in list(forms) for s in singulars(f)]
        for form in forms:
            if form in self.raw_to_class:
                return _Hit(form, form, None, self.raw_to_class[form])
            if form in self.raw_to_clean:
                entry = self.raw_to_clean[form]
                return _Hit(str(entry.target), form, entry)
            if form in self.clean_keys:
                return _Hit(form, form, None)
        for form in dict.fromkeys((key, bare)):
            cid, _, _, by_head = self.classify(form)
            if by_head and cid != self.other_id:
                return _Hit(form, form, None)
        for form in forms:  # `book shelf` -> `bookshelf`, after the head rule (`mail box` is a box)
            compact = self._compact.get(form.replace(" ", ""))
            if compact is not None:
                return self._lookup_raw(compact)
        return None

    def resolve(self, raw_names: Sequence[str]) -> list[Resolution]:
        """Resolve names (duplicates and repeats are answered from a cache), in input order."""
        todo = [n for n in dict.fromkeys(raw_names) if n not in self._cache]
        pending: list[tuple[str, str]] = []
        for raw in todo:
            key = canonical(raw)
            hit = self._lookup_raw(key) if key else None
            if hit is not None:
                self._cache[raw] = self._finish(raw, key, hit, 100.0, "")
            else:
                pending.append((raw, key))
        self._fuzzy(pending)
        return [self._cache[n] for n in raw_names]

    def _fuzzy(self, pending: list[tuple[str, str]]) -> None:
        """Batched fuzzy matching of whole names against every known name, and of compound heads.

        A compound whose whole name is unknown (`game tble`) still names its head noun: an unknown
        last word is matched against the single-word clean labels that have a class rule, and the
        head wins when it scores higher than the whole name.
        """
        cfg = self.fuzzy
        queries = [(raw, key) for raw, key in pending if len(key.replace(" ", "")) >= cfg.min_length]
        for raw, key in pending:
            if len(key.replace(" ", "")) < cfg.min_length:
                self._cache[raw] = self._unmatched(raw, key, "")
        whole = self._best([k for _, k in queries], self._keys, self._weights)
        phrases = [head_phrase(k) for _, k in queries]
        words = [
            w if " " in p and len(w := p.rpartition(" ")[2]) >= cfg.min_length and w not in self.clean_keys
            and w not in self.raw_to_clean else ""
            for p in phrases
        ]
        heads = self._best(words, self._heads, self._head_weights)
        for (raw, key), found, phrase, head in zip(queries, whole, phrases, heads):
            text = _describe(found)
            best = found[0][1] if found else 0.0
            if head and head[0][1] >= cfg.cutoff and head[0][1] > best:
                fixed = f"{phrase.rpartition(' ')[0]} {head[0][0]}"
                self._cache[raw] = self._finish(raw, key, _Hit(fixed, head[0][0], None), head[0][1], _describe(head), fuzzy=True)
                continue
            hit = self._lookup_raw(found[0][0]) if best >= cfg.cutoff else None
            if hit is not None:
                self._cache[raw] = self._finish(raw, key, hit, best, text, fuzzy=True)
            else:
                self._cache[raw] = self._unmatched(raw, key, text, found[0][0] if found else "")

    def _best(self, queries: list[str], choices: list[str], weights: np.ndarray) -> list[list[tuple[str, float]]]:
        """Top 3 per query over the query and its singular guesses (`lockkers` is one slip from `locker`)."""
        variants = [[q, *singulars(q)] if q else [] for q in queries]
        flat = self._top([v for vs in variants for v in vs], choices, weights)
        out: list[list[tuple[str, float]]] = []
        i = 0
        for vs in variants:
            merged: dict[str, float] = {}
            for found in flat[i : i + len(vs)]:
                for choice, score in found:
                    merged[choice] = max(score, merged.get(choice, 0.0))
            i += len(vs)
            out.append(sorted(merged.items(), key=lambda cs: -cs[1])[:3])
        return out

    def _top(self, queries: list[str], choices: list[str], weights: np.ndarray) -> list[list[tuple[str, float]]]:
        """Top 3 (choice, score) per query at or above the floor, by one `process.cdist` per chunk.

        rapidfuzz scores in C over all choices; numpy picks the best per row. Among scores equal
        to 0.01 the name annotators used most wins (`chiar`: chair, not chapr): one integer key,
        centi-score * n + weight rank, so one `argpartition` replaces a sort of the whole row.
        """
        cfg = self.fuzzy
        scorer, scale = SCORERS[cfg.scorer], _SCALE.get(cfg.scorer, 1.0)
        n = len(choices)
        if not n:
            return [[] for _ in queries]
        rank = np.empty(n, np.int64)
        rank[np.lexsort((np.arange(n), -weights))] = np.arange(n - 1, -1, -1)  # heaviest choice: n - 1
        k = min(3, n)
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), _CHUNK):
            chunk = queries[start : start + _CHUNK]
            scores = process.cdist(chunk, choices, scorer=scorer, score_cutoff=cfg.floor / scale, dtype=np.float32, workers=1)
            centi = np.rint(scores * np.float32(100.0 * scale)).astype(np.int64)
            key = centi * n + rank
            top = np.argpartition(-key, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(key, top, axis=1), axis=1), axis=1)
            out += [[(choices[i], c / 100.0) for i in idx if (c := int(row[i])) > 0] for row, idx in zip(centi, top)]
        return out

    def _finish(self, raw: str, key: str, hit: _Hit, score: float, candidates: str, fuzzy: bool = False) -> Resolution:
        decided: Entry | None
        if hit.direct is not None:
            cid, decided, by_head = int(hit.direct.target), hit.direct, False
            matched = hit.key
        else:
            cid, stage2_key, stage2_entry, by_head = self.classify(hit.clean)
            decided = stage2_entry if stage2_entry is not None else hit.entry
            matched = hit.key if stage2_entry is None or stage2_key == hit.clean else stage2_key
        if cid == self.other_id:
            method = "other"
        elif fuzzy:
            method = "fuzzy"
        elif by_head:
            method = "rule"
        else:
            method = decided.kind if decided is not None else "exact"
        name = self.classes.names[cid]
        return Resolution(
            raw, key, hit.clean, cid, name, method, score, matched, decided.source if decided else "", candidates,
            name if fuzzy else "",
        )

    def _unmatched(self, raw: str, key: str, candidates: str, best: str = "") -> Resolution:
        suggested = ""
        if best:
            hit = self._lookup_raw(best)
            if hit is not None:
                suggested = self._finish(raw, key, hit, 0.0, "").class_name
        return Resolution(raw, key, key, self.other_id, "other", "other", 0.0, "", "", candidates, suggested)


def _describe(found: list[tuple[str, float]]) -> str:
    return "; ".join(f"{k}={s:g}" for k, s in found)
