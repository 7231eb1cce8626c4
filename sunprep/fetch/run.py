"""`sunprep fetch` as one call: the dataset subset, optionally the toolbox's split file and the label table."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import urllib3
from filelock import FileLock, Timeout

from sunprep.atomic import write_bytes_atomic
from sunprep.errors import BadInput, FetchError
from sunprep.fetch.directory import SYMLINK, Directory, is_safe, read_directory
from sunprep.fetch.folder import copy_tree
from sunprep.fetch.ranged import Outcome, fetch_members
from sunprep.fetch.retry import OnRetry, RetryPolicy, Tally
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
DEFAULT_SUBSET = "kv2/kinect2data"
ALL = "all"  # --subset all: every sensor's folder, i.e. the whole SUNRGBD/ folder of the archive
LOCK = ".sunprep-fetch.lock"  # beside the staging folder, in DEST


@dataclass(frozen=True)
class FetchConfig:
    dest: Path
    source: str = OFFICIAL_URL  # URL, local zip, or unpacked folder
    subsets: tuple[str, ...] = (DEFAULT_SUBSET,)  # folders under the archive's SUNRGBD/, or "all"
    workers: int = 4  # concurrent range requests: hides per-request latency
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
    redirected_to: str | None = None  # the URL the server sent us on to, when it is on another host


Starter = Callable[[str, int], None]  # (what, bytes to fetch): a progress bar starts


@dataclass(frozen=True)
class Hooks:
    """What a caller sees while a fetch runs: a part starting, bytes arriving, a retry about to wait."""

    on_start: Starter = lambda what, total: None
    on_bytes: Callable[[int], None] = lambda n: None
    on_retry: OnRetry | None = None


@dataclass(frozen=True)
class Selection:
    """Which members of one archive to deliver: `wanted(name)`, shown as `what`.

    `expected` names files that must be there (the toolbox's): each one absent is a failure.
    Without it, a selection matching no file at all is an error: most likely a mistyped --subset.
    """

    top: str  # the archive's top folder ("SUNRGBD"), for an unpacked folder source
    wanted: Callable[[str], bool]
    what: str
    expected: frozenset[str] = frozenset()


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def subset_prefixes(subsets: Sequence[str]) -> tuple[str, ...]:
    """`SUNRGBD/<folder>/` for each --subset (`all`: the whole SUNRGBD/ folder, every sensor)."""
    if not subsets:
        raise BadInput("--subset: give at least one folder (e.g. kv2/kinect2data), or all")
    prefixes = []
    for subset in subsets:
        folder = subset.strip().strip("/")
        if folder == ALL:
            return (f"{DATASET_TOP}/",)
        if not folder or not is_safe(folder):
            raise BadInput(f"{subset}: not a folder inside the archive's {DATASET_TOP}/ (e.g. kv2/kinect2data, or all)")
        prefixes.append(f"{DATASET_TOP}/{PurePosixPath(folder)}/")
    return tuple(sorted(set(prefixes)))


def _part(what: str, source: str, outcome: Outcome, tally: Tally, archive_bytes: int | None,
          redirected_to: str | None = None) -> PartReport:
    return PartReport(what, source, len(outcome.fetched) + len(outcome.present) + len(outcome.failed),
                      len(outcome.fetched), len(outcome.present), tally.bytes, archive_bytes, tally.retries,
                      tuple(sorted(outcome.failed)), redirected_to)


def _missing(outcome: Outcome, expected: frozenset[str], listed: Callable[[str], bool], where: str) -> None:
    outcome.failed.extend(f"{name}: not in {where}" for name in sorted(expected) if not listed(name))


def _from_folder(root: Path, sel: Selection, store: Store, tally: Tally, start: Callable[[int], None]) -> PartReport:
    start(0)
    outcome = copy_tree(root, sel.top, sel.wanted, store, tally)
    if not sel.expected and not (outcome.fetched or outcome.present or outcome.failed):
        raise FetchError(f"{root}: no file in the folder under {sel.what}/")
    done = {*outcome.fetched, *outcome.present}
    _missing(outcome, sel.expected, done.__contains__, str(root))
    return _part(sel.what, str(root), outcome, tally, None)


def _from_zip(cfg: FetchConfig, source: Source, sel: Selection, store: Store, tally: Tally,
              start: Callable[[int], None]) -> tuple[Outcome, Directory]:
    """Ranged: read the directory, then only the selected members' extents."""
    directory = read_directory(source, cfg.policy(), tally)
    chosen = [m for m in directory.members if sel.wanted(m.name)]
    if not sel.expected and not any(not m.is_dir for m in chosen):
        raise FetchError(f"{source.name}: no file in the archive under {sel.what}/")
    deliverable = [m for m in chosen if is_safe(m.name) and not m.is_symlink]
    cached = TailCache(source.name, directory.tail, directory.size, source)  # small archives: all in it
    outcome = fetch_members(cached, deliverable, store, workers=cfg.workers, policy=cfg.policy(), tally=tally,
                            on_plan=start)
    outcome.failed.extend(f"{m.name}: member path escapes the destination folder" for m in chosen if not is_safe(m.name))
    outcome.failed.extend(f"{m.name}: {SYMLINK}" for m in chosen if is_safe(m.name) and m.is_symlink)
    return outcome, directory


def fetch_archive(cfg: FetchConfig, spec: str, sel: Selection, store: Store, pool: urllib3.PoolManager,
                  hooks: Hooks) -> PartReport:
    """Deliver the members `sel` selects from the archive (or unpacked folder) at `spec`.

    The source decides the way: an unpacked folder is copied, a local zip or a server answering
    byte ranges is read member by member, and a server without ranges (--full) is streamed once.
    """
    tally = Tally(on_retry=hooks.on_retry)

    def start(total: int) -> None:
        hooks.on_start(sel.what, total)
        tally.on_bytes = hooks.on_bytes

    if not _is_url(spec) and Path(spec).is_dir():
        return _from_folder(Path(spec), sel, store, tally, start)
    source: Source
    if _is_url(spec):
        source = HttpSource(spec, pool, cfg.policy(), whole_ok=cfg.full)
    elif Path(spec).is_file():
        source = ZipFileSource(Path(spec))
    else:
        raise BadInput(f"{spec}: no such file or folder (and not an http(s) URL)")
    if cfg.full and isinstance(source, HttpSource):
        outcome, directory = fetch_streamed(source, sel.wanted, store, policy=cfg.policy(), tally=tally, on_plan=start)
    else:
        outcome, directory = _from_zip(cfg, source, sel, store, tally, start)
    listed = {m.name for m in directory.members}
    _missing(outcome, sel.expected, listed.__contains__, "the archive")
    redirected = source.redirected_to if isinstance(source, HttpSource) else None
    return _part(sel.what, spec, outcome, tally, directory.size, redirected)


def fetch_file(cfg: FetchConfig, url: str, target: Path, pool: urllib3.PoolManager, hooks: Hooks) -> PartReport:
    """One whole small file (the label table), written atomically; kept when already present."""
    if not _is_url(url):
        raise BadInput(f"{url}: not an http(s) URL")
    tally = Tally(on_retry=hooks.on_retry)
    outcome = Outcome()
    source = HttpSource(url, pool, cfg.policy(), whole_ok=True)
    if target.is_file():
        outcome.present.append(target.name)
    else:
        try:
            with RangeStream(source, 0, None, cfg.policy(), tally) as s:
                data = b"".join(iter(s.read, b""))
            write_bytes_atomic(target, data)
            outcome.fetched.append(target.name)
        except FetchError as err:
            outcome.failed.append(f"{target.name}: {err}")
    return _part(target.name, url, outcome, tally, None, source.redirected_to)


@contextmanager
def locked(dest: Path) -> Iterator[None]:
    """One fetch per destination at a time: a second would empty the first's staging folder.

    filelock (as huggingface_hub uses) holds an OS lock that dies with its process, so a killed
    fetch never leaves the destination locked.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(f"{dest}: cannot make the destination folder ({err.strerror})") from err
    lock = FileLock(dest / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FetchError(f"{dest}: another fetch is writing {dest}; wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def run_fetch(cfg: FetchConfig, hooks: Hooks = Hooks()) -> list[PartReport]:
    """Fetch what `cfg` asks for into `cfg.dest`; one report per part. Failures are in the reports."""
    prefixes = subset_prefixes(cfg.subsets)
    if cfg.workers < 1 or cfg.retries < 0:
        raise BadInput(f"--workers {cfg.workers} --retries {cfg.retries}: need workers >= 1 and retries >= 0")
    dataset = Selection(DATASET_TOP, lambda name: name.startswith(prefixes),
                        " + ".join(p.rstrip("/") for p in prefixes))
    toolbox_files = frozenset({SPLIT} | SEG2D if cfg.seg2d else {SPLIT})
    toolbox = Selection(TOOLBOX_TOP, toolbox_files.__contains__, TOOLBOX_TOP, toolbox_files)
    with locked(cfg.dest), http_pool(cfg.workers) as pool:
        store = Store(cfg.dest)
        try:
            reports = [fetch_archive(cfg, cfg.source, dataset, store, pool, hooks)]
            if cfg.toolbox or cfg.seg2d:
                reports.append(fetch_archive(cfg, cfg.toolbox_source, toolbox, store, pool, hooks))
            if cfg.mapping_url is not None:
                reports.append(fetch_file(cfg, cfg.mapping_url, cfg.dest / "seglistall.csv", pool, hooks))
        finally:
            store.close()
    return reports
