"""`sunprep fetch` as one call: the dataset subset, optionally the toolbox's split file and the label table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import urllib3

from sunprep.atomic import write_bytes_atomic
from sunprep.errors import BadInput, FetchError
from sunprep.fetch.directory import is_safe, read_directory
from sunprep.fetch.folder import copy_tree
from sunprep.fetch.ranged import Outcome, fetch_members
from sunprep.fetch.retry import RetryPolicy, Tally
from sunprep.fetch.sources import HttpSource, Source, TailCache, ZipFileSource, http_pool
from sunprep.fetch.store import Store
from sunprep.fetch.stream import RangeStream
from sunprep.fetch.streamed import fetch_streamed

# Published by the SUN RGB-D authors (rgbd.cs.princeton.edu) and by the SUNRGBD_COCO project.
OFFICIAL_URL = "https://rgbd.cs.princeton.edu/data/SUNRGBD.zip"
TOOLBOX_URL = "https://rgbd.cs.princeton.edu/data/SUNRGBDtoolbox.zip"
MAPPING_URL = "https://raw.githubusercontent.com/crmauceri/SUNRGBD_COCO/master/seglistall.csv"
DATASET_TOP = "SUNRGBD"  # every member of SUNRGBD.zip starts with it
TOOLBOX_TOP = "SUNRGBDtoolbox"
SPLIT = "SUNRGBDtoolbox/traintestSUNRGBD/allsplit.mat"  # what export needs for the official split
# Labels for scenes without seg.mat, and the scene order that file is indexed by.
SEG2D = frozenset({"SUNRGBDtoolbox/Metadata/SUNRGBD2Dseg.mat", "SUNRGBDtoolbox/Metadata/SUNRGBDMeta.mat"})


@dataclass(frozen=True)
class FetchConfig:
    dest: Path
    source: str = OFFICIAL_URL  # URL, local zip, or unpacked folder
    subset: str = "kv2/kinect2data"  # under the archive's SUNRGBD/ folder
    jobs: int = 4  # concurrent range requests: hides per-request latency
    retries: int = 5  # consecutive failures per transfer before giving up on it
    full: bool = False  # stream the whole archive (a server without byte ranges)
    toolbox: bool = False  # also fetch allsplit.mat out of the toolbox archive
    toolbox_source: str = TOOLBOX_URL
    seg2d: bool = False  # also the toolbox's Metadata/SUNRGBD2Dseg.mat and SUNRGBDMeta.mat
    mapping_url: str | None = None  # download seglistall.csv from here into DEST
    timeout: float = 30.0  # seconds: connect, and silence while reading
    backoff: float = 0.5  # seconds before the first retry, doubling

    def policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries, backoff=self.backoff, timeout=self.timeout)


@dataclass(frozen=True)
class PartReport:
    """The summary of one thing fetched (the subset, the toolbox files, the label table)."""

    what: str  # e.g. "SUNRGBD/kv2/kinect2data"
    source: str
    files: int  # selected files, whether fetched now or already present
    fetched: int
    present: int  # already there and verified: not downloaded again
    bytes_fetched: int  # everything received, the directory included
    archive_bytes: int | None  # size of the whole archive (None for a folder or a single file)
    retries: int
    failed: tuple[str, ...]  # `name: problem`, one per file that could not be delivered


Starter = Callable[[str, int], None]  # (what, bytes to fetch): a progress bar starts


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _part(what: str, source: str, outcome: Outcome, tally: Tally, archive_bytes: int | None) -> PartReport:
    return PartReport(what, source, len(outcome.fetched) + len(outcome.present) + len(outcome.failed),
                      len(outcome.fetched), len(outcome.present), tally.bytes, archive_bytes, tally.retries,
                      tuple(sorted(outcome.failed)))


def fetch_archive(cfg: FetchConfig, spec: str, top: str, wanted: Callable[[str], bool], what: str, store: Store,
                  pool: urllib3.PoolManager, on_start: Starter, on_bytes: Callable[[int], None],
                  expected: frozenset[str] | set[str] = frozenset()) -> PartReport:
    """Deliver the members `wanted` selects from the archive (or unpacked folder) at `spec`.

    `expected` names files that must be there (the toolbox's): each one absent is a failure.
    Without it, a subset matching no file at all is an error: most likely a mistyped --subset.
    """
    tally = Tally()

    def start(total: int) -> None:
        on_start(what, total)
        tally.on_bytes = on_bytes

    if not _is_url(spec) and Path(spec).is_dir():
        start(0)
        outcome = copy_tree(Path(spec), top, wanted, store, tally)
        if not expected and not (outcome.fetched or outcome.present):
            raise FetchError(f"{spec}: no file in the folder under {what}/")
        outcome.failed.extend(f"{name}: not in {spec}" for name in sorted(expected)
                              if name not in outcome.fetched and name not in outcome.present)
        return _part(what, spec, outcome, tally, None)
    source: Source
    if _is_url(spec):
        source = HttpSource(spec, pool, cfg.policy(), whole_ok=cfg.full)
    elif Path(spec).is_file():
        source = ZipFileSource(Path(spec))
    else:
        raise BadInput(f"{spec}: no such file or folder (and not an http(s) URL)")
    if cfg.full and _is_url(spec):
        outcome, directory = fetch_streamed(source, wanted, store, policy=cfg.policy(), tally=tally, on_plan=start)
    else:
        directory = read_directory(source, cfg.policy(), tally)
        chosen = [m for m in directory.members if wanted(m.name)]
        if not expected and not any(not m.is_dir for m in chosen):
            raise FetchError(f"{spec}: no file in the archive under {what}/")
        unsafe = [m for m in chosen if not is_safe(m.name)]
        cached = TailCache(source.name, directory.tail, directory.size, source)  # small archives: all in it
        outcome = fetch_members(cached, [m for m in chosen if is_safe(m.name)], store, jobs=cfg.jobs,
                                policy=cfg.policy(), tally=tally, on_plan=start)
        outcome.failed.extend(f"{m.name}: member path escapes the destination folder" for m in unsafe)
    listed = {m.name for m in directory.members}
    outcome.failed.extend(f"{name}: not in the archive" for name in sorted(expected - listed))
    return _part(what, spec, outcome, tally, directory.size)


def fetch_file(cfg: FetchConfig, url: str, target: Path, pool: urllib3.PoolManager) -> PartReport:
    """One whole small file (the label table), written atomically; kept when already present."""
    if not _is_url(url):
        raise BadInput(f"{url}: not an http(s) URL")
    tally = Tally()
    outcome = Outcome()
    if target.is_file():
        outcome.present.append(target.name)
    else:
        try:
            with RangeStream(HttpSource(url, pool, cfg.policy(), whole_ok=True), 0, None, cfg.policy(), tally) as s:
                data = b"".join(iter(s.read, b""))
            write_bytes_atomic(target, data)
            outcome.fetched.append(target.name)
        except FetchError as err:
            outcome.failed.append(f"{target.name}: {err}")
    return _part(target.name, url, outcome, tally, None)


def run_fetch(cfg: FetchConfig, on_start: Starter = lambda what, total: None,
              on_bytes: Callable[[int], None] = lambda n: None) -> list[PartReport]:
    """Fetch what `cfg` asks for into `cfg.dest`; one report per part. Failures are in the reports."""
    subset = PurePosixPath(cfg.subset.strip("/"))
    if not cfg.subset.strip("/") or not is_safe(str(subset)):
        raise BadInput(f"{cfg.subset}: not a folder inside the archive's {DATASET_TOP}/ (e.g. kv2/kinect2data)")
    if cfg.jobs < 1 or cfg.retries < 0:
        raise BadInput(f"--jobs {cfg.jobs} --retries {cfg.retries}: need jobs >= 1 and retries >= 0")
    prefix = f"{DATASET_TOP}/{subset}/"
    toolbox_files = {SPLIT} | SEG2D if cfg.seg2d else {SPLIT}
    store = Store(cfg.dest)
    try:
        with http_pool(cfg.jobs) as pool:
            reports = [fetch_archive(cfg, cfg.source, DATASET_TOP, lambda name: name.startswith(prefix),
                                     prefix.rstrip("/"), store, pool, on_start, on_bytes)]
            if cfg.toolbox or cfg.seg2d:
                reports.append(fetch_archive(cfg, cfg.toolbox_source, TOOLBOX_TOP, toolbox_files.__contains__,
                                             TOOLBOX_TOP, store, pool, on_start, on_bytes, expected=toolbox_files))
            if cfg.mapping_url is not None:
                reports.append(fetch_file(cfg, cfg.mapping_url, cfg.dest / "seglistall.csv", pool))
    finally:
        store.close()
    return reports
