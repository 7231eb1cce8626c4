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
from sunprep.labels.typos import common_slip, prefixed, word_count

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
    """Chosen by measurement on tests/data/typo_dev.csv (see benchmarks/normalize.py --sweep)."""

    scorer: str = "osa"
    cutoff: float = 80.0  # accept the best key at or above this score: one slip in five letters
    floor: float = 60.0  # report candidates down to this score, for review
    min_length: int = 2  # shorter names are not fuzzy-matched: one letter is anything
    single_edit: bool = True  # below the cut-off, one slip is accepted when the evidence is unambiguous
    word_count: int = 1000  # a name this common in English (typos.word_count) is a word, not a slip; 0: off
    dominance: float = 0.8  # share of the evidence the winning class needs among one-slip candidates
    rare_slip: float = 0.1  # evidence factor of a slip that is not a common one (typos.common_slip)


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
        self._words = {w for k in self._keys for w in k.split(" ")}
        self._head_guesses: set[str] = set()
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
        guesses: dict[str, _Hit] = {}
        for raw in todo:
            key = canonical(raw)
            hit = self._lookup_raw(key) if key else None
            if hit is not None and hit.key not in (key, strip_instance(key)) and self._key_class(hit.key) == self.other_id:
                guesses[raw] = hit  # `deks` is not the rare raw name `dek` when it is one slip from desk
                pending.append((raw, key))
            elif hit is not None and self._slipped_modifier(key, hit):
                guesses[raw] = hit  # `bobm box` is the listed `boom box` before it is a box by its head
                self._head_guesses.add(raw)
                pending.append((raw, key))
            elif hit is not None:
                self._cache[raw] = self._finish(raw, key, hit, 100.0, "")
            else:
                pending.append((raw, key))
        self._fuzzy(pending, guesses)
        return [self._cache[n] for n in raw_names]

    def _fuzzy(self, pending: list[tuple[str, str]], guesses: dict[str, _Hit]) -> None:
        """Batched fuzzy matching of whole names against every known name, and of compound heads.

        A compound whose whole name is unknown (`game tble`) still names its head noun: an unknown
        last word is matched against the single-word clean labels that have a class rule, and the
        head wins when it scores higher than the whole name. A name whose every word is an English
        word (`shell`, `black chain`) is not corrected: it names something, just nothing we know.
        A name one slip from known names is decided by the evidence for them (`_one_slip`); the score
        cut-off decides the rest (and the slips whose evidence is split).
        `guesses` are singular guesses that lead to `other`: kept unless a correction finds a class.
        """
        cfg = self.fuzzy
        queries = [(raw, key) for raw, key in pending if len(key.replace(" ", "")) >= cfg.min_length]
        for raw, key in pending:
            if len(key.replace(" ", "")) < cfg.min_length:
                hit = guesses.get(raw)
                self._cache[raw] = self._finish(raw, key, hit, 100.0, "") if hit else self._unmatched(raw, key, "")
        whole = self._best([k for _, k in queries], self._keys, self._weights)
        phrases = [head_phrase(k) for _, k in queries]
        words = [
            w if " " in p and len(w := p.rpartition(" ")[2]) >= cfg.min_length and w not in self.clean_keys
            and w not in self.raw_to_clean and not self._is_word(w) else ""
            for p in phrases
        ]
        heads = self._best(words, self._heads, self._head_weights)
        guarded = [self._is_word(k) for _, k in queries]
        slips = self._one_slip([k if not g else "" for (_, k), g in zip(queries, guarded)], self._keys, self._weights)
        head_slips = self._one_slip(words, self._heads, self._head_weights)
        for (raw, key), found, phrase, head, guard, slip, head_slip in zip(
            queries, whole, phrases, heads, guarded, slips, head_slips
        ):
            text = _describe(found)
            best = found[0][1] if found else 0.0
            head_best = head_slip if head_slip is not None else head[0] if head and head[0][1] >= cfg.cutoff else None
            if head_best is not None and head_best[1] > best:
                fixed = f"{phrase.rpartition(' ')[0]} {head_best[0]}"
                self._cache[raw] = self._finish(raw, key, _Hit(fixed, head_best[0], None), head_best[1], _describe(head), fuzzy=True)
                continue
            choice = None if guard else slip if slip is not None else found[0] if best >= cfg.cutoff else None
            hit = self._lookup_raw(choice[0]) if choice is not None else None
            if choice is not None and hit is not None and (
                self._key_class(choice[0]) != self.other_id or raw in self._head_guesses
            ):
                self._cache[raw] = self._finish(raw, key, hit, choice[1], text, fuzzy=True)
            elif raw in guesses:
                self._cache[raw] = self._finish(raw, key, guesses[raw], 100.0, "")
            elif choice is not None and hit is not None:
                self._cache[raw] = self._finish(raw, key, hit, choice[1], text, fuzzy=True)
            else:
                self._cache[raw] = self._unmatched(raw, key, text, found[0][0] if found else "")

    def _slipped_modifier(self, key: str, hit: _Hit) -> bool:
        """A compound found by its head noun whose modifier is neither a known word nor English."""
        if hit.entry is not None or hit.direct is not None or " " not in key or key in self.clean_keys:
            return False
        n = self.fuzzy.word_count
        return any(w not in self._words and not (n > 0 and word_count(w) >= n) for w in key.split(" ")[:-1])

    def _is_word(self, key: str) -> bool:
        """Every word of the name is an English word at least `word_count` common (off at 0).

        A one-word name the list has as the plural of a word that common is a word too (`bays`,
        `eights`: lists count the forms apart, and the plural is the rarer one). Not in compounds:
        `dresses wit hangers` is a slip of a listed name, whatever its words are.
        """
        n = self.fuzzy.word_count
        if n > 0 and " " not in key and word_count(key) > 0 and any(word_count(s) >= n for s in singulars(key)):
            return True
        return n > 0 and all(word_count(w) >= n for w in key.split(" "))

    def _one_slip(self, queries: list[str], choices: list[str], weights: np.ndarray) -> list[tuple[str, float] | None]:
        """The choice one OSA edit away that the evidence names, or None ("" queries: None).

        Evidence for a choice: the images annotators used it in (plus one, so a table without
        counts still counts names), times `rare_slip` unless the edit is a common slip, times 0 when
        it is a prefix (`xbox` is no box). Evidence is summed per class the choices lead to; the
        heaviest class must hold `dominance` of it, and some.
        `sfoa` -> sofa; `tc` -> tv (c touches v), not pc; `bof` -> other: box, bob and bog split it.
        """
        cfg = self.fuzzy
        out: list[tuple[str, float] | None] = [None] * len(queries)
        todo = [i for i, q in enumerate(queries) if q] if cfg.single_edit else []
        for start in range(0, len(todo), _CHUNK):
            rows = todo[start : start + _CHUNK]
            dist = process.cdist([queries[i] for i in rows], choices, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=1)
            for i, row in zip(rows, dist):
                q = queries[i]
                by_class: dict[int, float] = {}
                best: dict[int, tuple[float, str]] = {}
                for j in np.flatnonzero(row == 1).tolist():
                    c = choices[j]
                    cid = self._key_class(c)
                    if cid is None:
                        continue
                    w = (weights[j] + 1.0) * (1.0 if common_slip(q, c) else 0.0 if prefixed(q, c) else cfg.rare_slip)
                    by_class[cid] = by_class.get(cid, 0.0) + w
                    if w > best.get(cid, (-1.0, ""))[0]:
                        best[cid] = (w, c)
                if not by_class:
                    continue
                top = max(by_class, key=lambda k: by_class[k])
                if top != self.other_id and 0 < by_class[top] >= cfg.dominance * sum(by_class.values()):
                    key = best[top][1]
                    out[i] = (key, round(100.0 * float(OSA.normalized_similarity(q, key)), 2))
        return out

    def _key_class(self, key: str) -> int | None:
        """The class a known key leads to (cached with the stage-2 classes); None if it leads nowhere."""
        hit = self._lookup_raw(key)
        if hit is None:
            return None
        if hit.direct is not None:
            return int(hit.direct.target)
        return self.classify(hit.clean)[0]

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
