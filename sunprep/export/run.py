"""The export batch: scenes -> resized, normalised samples -> one of three formats, resumably.

Workers (processes) read, resize, normalise, encode and (for the per-file formats) write the
files under temporary names; the parent receives results in scene order through a bounded
window and alone assigns indices and final names (renames, or Parquet shards). That single
ordered placer is what makes outputs byte-identical for any `--workers`, keeps indices 0..n-1
without gaps when scenes are skipped, and lets the journal (sunprep.export.manifest) describe a
prefix of the work that a re-run can skip. Memory stays flat: at most `4 * workers` results are in
flight.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal

from sunprep.atomic import check_out_folder, write_text_atomic
from sunprep.errors import BadInput, skip_reason
from sunprep.export.cityscapes import DepthEncoding
from sunprep.export.cityscapes_source import discover_frames, has_disparity, load_label_table
from sunprep.export.formats import Writer, remove_staging
from sunprep.export.manifest import Done, Journal, Skipped, write_manifest
from sunprep.export.registry import Format, make_writer
from sunprep.export.resize import DEFAULT_FIT, Fit, plan, resize_image, resize_nearest, size_problem
from sunprep.export.sample import Encoded, Meta, Sample, checksum
from sunprep.export.shards import DEFAULT_SHARD_BYTES
from sunprep.export.sources import CityscapesJob, DepthChoice, SunrgbdJob, close_seg2d, seg2d_handle
from sunprep.export.splits import SPLITS, hashed_split, load_split_file
from sunprep.labels.classes import ClassTable, seg37_classes
from sunprep.labels.labelmap import LabelMap, load_label_map
from sunprep.sunrgbd.depth import DEPTH_CHOICES, NO_DEPTH
from sunprep.sunrgbd.discover import discover_scenes
from sunprep.sunrgbd.mat import open_seg2d
from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS

Dataset = Literal["sunrgbd", "cityscapes"]
# What a SUN RGB-D label becomes: sunprep's 39 classes resolved from the raw names, or the
# toolbox's official 37-class `seglabel` maps that published results are computed on.
LabelSpace = Literal["sunprep39", "seg37-official"]
LABEL_SPACES: tuple[LabelSpace, ...] = ("sunprep39", "seg37-official")
WINDOW_PER_JOB = 4  # results in flight per worker: enough to hide the parent's writes


@dataclass(frozen=True)
class ExportConfig:
    root: Path
    out: Path
    format: Format = "cityscapes"
    dataset: Dataset = "sunrgbd"
    sensors: tuple[str, ...] = DEFAULT_SENSOR_FOLDERS  # sensor folders read from a SUNRGBD/ root
    size: tuple[int, int] = (128, 256)  # (H, W): the widely used Cityscapes .npy release size
    fit: Fit = DEFAULT_FIT  # see sunprep.export.resize for why crop
    depth: DepthChoice = "refined"  # "none": no depth read or written, in any format
    depth_encoding: DepthEncoding = "metres"
    resolved: Path | None = None  # `sunprep normalize --out` folder
    mappings: tuple[Path, ...] = ()
    split_file: Path | None = None  # toolbox allsplit.mat; else the seeded split below
    seg2d: Path | None = None  # toolbox SUNRGBD2Dseg.mat, a label source after seg.mat, before index.json
    seg2d_order: Path | None = None  # scene order of that file; default: SUNRGBDMeta.mat beside it
    label_space: LabelSpace = "sunprep39"  # seg37-official reads --seg2d's seglabel instead of raw names
    val_fraction: float = 0.2
    seed: int = 0
    shard_bytes: int = DEFAULT_SHARD_BYTES
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # processes
    strict: bool = False
    keep_unlabeled: bool = False  # export scenes without a labelled pixel (all void) instead of leaving them out

    def settings(self, mapping_fingerprint: str) -> dict:
        """Everything that decides the output bytes (not workers, not strict), for resume checks.

        Paths are resolved: `--root data` and `--root /abs/data` are one input, and a resume from
        another working directory must not be refused as other settings.
        """
        keep = asdict(self)
        for k in ("out", "workers", "strict"):
            keep.pop(k)
        if self.format != "parquet":
            keep.pop("shard_bytes")
        if self.seg2d is None:  # absent when unused, so exports begun before --seg2d existed still resume
            keep.pop("seg2d")
            keep.pop("seg2d_order")
        if self.label_space == "sunprep39":  # absent by default, so exports begun before the option still resume
            keep.pop("label_space")
        if self.keep_unlabeled:  # exports begun before the option kept such scenes: they resume with it
            keep.pop("keep_unlabeled")
        if self.sensors == DEFAULT_SENSOR_FOLDERS or self.dataset != "sunrgbd":  # likewise
            keep.pop("sensors")
        keep["mapping_fingerprint"] = mapping_fingerprint
        return json.loads(json.dumps(keep, default=lambda v: str(Path(v).resolve()) if isinstance(v, Path) else str(v)))


@dataclass(frozen=True)
class ExportReport:
    out: Path
    counts: dict[str, int]  # per split, including samples of an earlier interrupted run
    sensors: dict[str, dict[str, int]]  # sensor folder -> split -> samples (SUN RGB-D scenes in a sensor folder)
    resumed: int  # samples found done from an earlier run
    skipped: tuple[Skipped, ...]
    warnings: tuple[str, ...]  # what the reader recovered from, one line each (also per row in the manifest)
    seconds: float
    processed: int  # scenes read in this run
    mapping_fingerprint: str  # as the manifest records it, and `normalize` prints it
    split_warnings: tuple[str, ...] = ()  # of the export as a whole: a split left empty (`empty_splits`)


@dataclass(frozen=True)
class Hooks:
    """How the core tells the CLI what happens, without printing."""

    start: Callable[[int], None] = lambda total: None
    step: Callable[[], None] = lambda: None
    skip: Callable[[Skipped], None] = lambda s: None


# --- worker side --------------------------------------------------------------------------------

_WORKER: dict = {}


# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 64 * 2**20


def keep_freed_memory() -> None:
    """Let this process's malloc keep freed memory for the next scene instead of returning it.

    Every scene allocates the same few full-size buffers (decoded JPEG and PNG, label map,
    their numpy copies: about 1 MB each). glibc hands blocks that large to mmap and gives the
    pages back on free, so each scene faulted ~900 fresh pages in again: a sixth of a worker's
    CPU time, spent in the kernel. Keeping up to 64 MB on the heap bounds memory all the same.
    A no-op where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when its parent dies (Linux), and exit now if it already has.

    A parent killed with -9 cannot shut its pool down; without this its workers were re-parented
    to init and went on reading and writing into OUT, racing the next run. Elsewhere the pool's
    own broken-pipe handling is all there is.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died between fork and prctl
        os._exit(1)


def init_worker(writer: Writer, label_map: LabelMap | None, cfg: ExportConfig, parent_pid: int | None = None) -> None:
    """Per-process state, sent once instead of with every job."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    keep_freed_memory()
    _WORKER.update(writer=writer, label_map=label_map, cfg=cfg)


def export_one(job: SunrgbdJob | CityscapesJob) -> Encoded | Skipped:
    """Read, resize, normalise and encode one scene, then stage its files.

    Whatever reading the scene raises becomes a Skipped (unexpected failures with their type and
    traceback), never the end of the batch. Writing is another matter: a full disk or an
    unwritable OUT fails every scene alike, so it stops the run.
    """
    cfg: ExportConfig = _WORKER["cfg"]
    try:
        sample, meta = _read_one(job, cfg)
        if not cfg.keep_unlabeled and not (sample.label >= 0).any():
            return Skipped(job.scene, unlabeled_reason(meta), unlabeled=True)
        files = _WORKER["writer"].encode(sample)
    except Exception as err:  # one scene's failure, whatever it is, is that scene's skip reason
        reason, tb = skip_reason(err, job.scene)
        return Skipped(job.scene, reason, tb)
    writer: Writer = _WORKER["writer"]
    try:
        return writer.stage(job.split, Encoded(meta, files, checksum(files), *cfg.size))
    except BadInput as err:  # the scene's output cannot exist (a name over the limit); OSError stops the run
        return Skipped(job.scene, str(err))


def unlabeled_reason(meta: Meta) -> str:
    """Why a sample with no labelled pixel is left out: all void, it adds images but teaches nothing."""
    why = ("no seg.mat, index.json or --seg2d labels" if meta.label_source == "none"
           else f"its {meta.label_source} labels no pixel of the exported sample")  # fmt: skip
    return f"{meta.scene}: no annotation ({why}); left out, --keep-unlabeled exports it as an all-void sample"


def _read_one(job: SunrgbdJob | CityscapesJob, cfg: ExportConfig) -> tuple[Sample, Meta]:
    seg2d = seg2d_handle(cfg.seg2d, cfg.seg2d_order) if cfg.seg2d is not None else None
    loaded = job.load(_WORKER["label_map"], cfg.depth, seg2d)
    geom = plan(loaded.rgb.shape[:2], cfg.size, cfg.fit)
    # Labels are resized before the lookup: nearest sampling commutes with it, on 1/12 the pixels.
    label = loaded.lut[resize_nearest(loaded.labels, geom, fill=0)]
    depth = resize_nearest(loaded.depth, geom, fill=0.0) if loaded.depth is not None else None
    # The release's maps take the labels' samples; a pad border is 0: unlabeled, no instance, transparent.
    release = {role: resize_nearest(arr, geom, fill=0) for role, arr in loaded.release.items()}
    return Sample(resize_image(loaded.rgb, geom), label, depth, release), loaded.meta


# Fork on Linux: workers inherit the imported modules and the label map, so a run starts in
# milliseconds instead of re-importing numpy, scipy and pyarrow per worker. Workers are forked
# before the progress bar starts its refresh thread (the CLI starts the bar in `Hooks.start`),
# so no other thread's lock is inherited. Elsewhere fork is unsafe: spawn.
POOL_CONTEXT = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class OrderedPool:
    """`export_one` over the jobs, results in job order; at most WINDOW_PER_JOB * n_proc in flight.

    Entering forks the workers (one process runs in-process instead); iterating yields results.
    """

    def __init__(self, jobs: list, n_proc: int, initargs: tuple) -> None:
        self.jobs, self.n_proc, self.initargs = jobs, n_proc, initargs
        self._pool: ProcessPoolExecutor | None = None
        self._window: deque[Future] = deque()

    def __enter__(self) -> OrderedPool:
        if self.n_proc <= 1:
            init_worker(*self.initargs)
            return self
        initargs = (*self.initargs, os.getpid())
        self._pool = ProcessPoolExecutor(self.n_proc, mp_context=POOL_CONTEXT, initializer=init_worker, initargs=initargs)
        self._todo = iter(self.jobs)
        self._window.extend(self._pool.submit(export_one, j) for j in islice(self._todo, WINDOW_PER_JOB * self.n_proc))
        return self

    def __iter__(self) -> Iterator[Encoded | Skipped]:
        if self._pool is None:
            yield from map(export_one, self.jobs)
            return
        while self._window:
            result = self._window.popleft().result()
            nxt = next(self._todo, None)
            if nxt is not None:
                self._window.append(self._pool.submit(export_one, nxt))
            yield result

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        else:
            close_seg2d()  # opened in this process by the in-process "worker"


# --- parent side --------------------------------------------------------------------------------


def plan_jobs(cfg: ExportConfig) -> tuple[list[SunrgbdJob | CityscapesJob], list[Skipped]]:
    """Every scene with its split, in a stable order; scenes the split file lacks are skipped."""
    if cfg.dataset == "cityscapes":
        return [CityscapesJob(f) for f in discover_frames(cfg.root)], []
    root = Path(cfg.root)
    table = load_split_file(cfg.split_file) if cfg.split_file else None
    jobs: list[SunrgbdJob | CityscapesJob] = []
    missing: list[Skipped] = []
    for scene_dir in discover_scenes(root, cfg.sensors):
        split = table.split_of(scene_dir) if table else hashed_split(scene_dir, cfg.val_fraction, cfg.seed)
        job = SunrgbdJob(split or "train", scene_dir, root, official=cfg.label_space == "seg37-official")
        if split is None:
            missing.append(Skipped(job.scene, f"{cfg.split_file}: does not list {scene_dir.name}"))
        else:
            jobs.append(job)
    return jobs, missing


def remove_stale_temporaries(out: Path) -> None:
    """A killed run may leave `sunprep.atomic` temporaries (`.<name>.<random>.tmp<suffix>`) and
    files its workers staged but never placed."""
    remove_staging(out)
    for tmp in out.rglob(".*.tmp*"):
        if tmp.is_file():
            tmp.unlink()


@dataclass(frozen=True)
class Plan:
    """What a valid configuration resolves to, before anything is written."""

    label_map: LabelMap | None  # None: Cityscapes, or SUN RGB-D's official labels (nothing to resolve)
    classes: ClassTable  # what OUT/classes.csv says the label ids are
    space: str  # the label space's name, for formats that describe themselves: --label-space, or cityscapes-trainids
    fingerprint: str  # of the label mapping
    settings: dict  # everything that decides the output bytes
    settings_sha256: str
    jobs: list[SunrgbdJob | CityscapesJob]
    unlisted: list[Skipped]  # scenes the split file does not list


def validate(cfg: ExportConfig) -> Plan:
    """Check the arguments and inputs as a whole, and list the jobs; raises BadInput/MappingError."""
    if not 0.0 <= cfg.val_fraction <= 1.0:
        raise BadInput(f"--val-fraction: {cfg.val_fraction} is not between 0 and 1")
    if problem := size_problem(cfg.size):
        raise BadInput(f"--size: {problem}")
    if cfg.dataset == "cityscapes" and cfg.split_file:
        raise BadInput(f"{cfg.split_file}: a SUN RGB-D split file; Cityscapes keeps its own train/val")
    if cfg.depth not in DEPTH_CHOICES:
        raise BadInput(f"--depth {cfg.depth!r}: expected one of {', '.join(DEPTH_CHOICES)}")
    if cfg.dataset == "cityscapes" and cfg.depth != NO_DEPTH and not has_disparity(cfg.root):
        raise BadInput(f"{cfg.root}: no disparity/ folder, so no depth (only leftImg8bit and gtFine downloaded?); export without depth with --depth none")
    if cfg.label_space not in LABEL_SPACES:
        raise BadInput(f"--label-space {cfg.label_space!r}: expected one of {', '.join(LABEL_SPACES)}")
    official = cfg.label_space == "seg37-official"
    if official:
        check_official_options(cfg)
    if cfg.seg2d is not None:
        if cfg.dataset == "cityscapes":
            raise BadInput(f"{cfg.seg2d}: SUN RGB-D labels; Cityscapes has its own")
        with open_seg2d(cfg.seg2d, cfg.seg2d_order) as seg2d:  # unreadable is fatal here, not a skip per scene; closed before the fork
            if official and not seg2d.has_official:
                raise BadInput(f"{cfg.seg2d}: no seglabel field (the official 37-class maps); --label-space seg37-official needs it")
    label_map: LabelMap | None = None
    if cfg.dataset == "cityscapes":
        classes = load_label_table().classes
        fingerprint = hashlib.sha256(load_label_table().lut.tobytes()).hexdigest()
    elif official:
        classes = seg37_classes()
        fingerprint = hashlib.sha256(f"seg37-official\n{classes.to_csv()}".encode()).hexdigest()
    else:
        label_map = load_label_map(cfg.resolved, cfg.mappings)
        classes, fingerprint = label_map.classes, label_map.fingerprint
    settings = cfg.settings(fingerprint)
    settings_sha256 = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    jobs, unlisted = plan_jobs(cfg)
    space = "cityscapes-trainids" if cfg.dataset == "cityscapes" else cfg.label_space
    return Plan(label_map, classes, space, fingerprint, settings, settings_sha256, jobs, unlisted)


def check_official_options(cfg: ExportConfig) -> None:
    """The official labels are read, not resolved: options that resolve names, or another
    dataset, would be silently ignored, so they are refused."""
    if cfg.dataset != "sunrgbd":
        raise BadInput(f"--label-space seg37-official: SUN RGB-D's official labels; --dataset {cfg.dataset} has its own")
    if cfg.seg2d is None:
        raise BadInput("--label-space seg37-official: reads seglabel from the toolbox's SUNRGBD2Dseg.mat; give --seg2d")
    if cfg.resolved is not None or cfg.mappings:
        given = cfg.resolved if cfg.resolved is not None else cfg.mappings[0]
        raise BadInput(f"{given}: --resolved/--mapping resolve raw names; --label-space seg37-official does not use them")


@dataclass
class Progress:
    """The resume state: what earlier runs finished, and what this run still has to do."""

    journal: Journal
    resumed: int  # samples done by earlier runs
    todo: list[SunrgbdJob | CityscapesJob]
    done: list[Done]
    skipped: list[Skipped]
    next_index: dict[str, int]


def resume(out: Path, plan: Plan, hooks: Hooks) -> Progress:
    """Open OUT's journal and decide what is left; raises BadInput when OUT cannot be resumed.

    Only finished samples count as done: scenes an earlier run skipped are read again, so a
    scene fixed since then is exported and a stale reason does not outlive its cause.
    """
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(out, plan.settings_sha256)
    state = journal.load()
    missing = [f for d in state.done for f in d.files if not (out / f).is_file()]
    if missing:
        raise BadInput(f"{out / missing[0]}: listed as done but missing; use a fresh --out")
    remove_stale_temporaries(out)
    journal.open(state)
    finished = {d.scene for d in state.done}
    # `job.scene` resolves paths (~0.4 ms a scene in the parent): only a resumed run needs it.
    todo = [j for j in plan.jobs if j.scene not in finished] if finished else list(plan.jobs)
    skipped: list[Skipped] = []
    for s in plan.unlisted:
        skipped.append(s)
        journal.append(s)
        hooks.skip(s)
    next_index: dict[str, int] = {split: sum(d.split == split for d in state.done) for split in SPLITS}
    return Progress(journal, len(state.done), todo, list(state.done), skipped, next_index)


def place_all(cfg: ExportConfig, plan: Plan, progress: Progress, hooks: Hooks) -> None:
    """Run the workers and place their results in job order; the journal records each as it lands."""
    writer = make_writer(cfg.format, cfg.out, plan.classes, plan.space, tuple(progress.done), depth_encoding=cfg.depth_encoding, shard_bytes=cfg.shard_bytes)
    journal, todo = progress.journal, progress.todo
    n_proc = min(cfg.workers, max(1, len(todo)))
    placed = 0
    try:
        with OrderedPool(todo, n_proc, (writer, plan.label_map, cfg)) as results:
            hooks.start(len(todo))
            for job, result in zip(todo, results, strict=True):
                placed += 1
                if isinstance(result, Skipped):
                    if cfg.strict and not result.unlabeled:
                        raise BadInput(result.reason)
                    progress.skipped.append(result)
                    journal.append(result)
                    hooks.skip(result)
                else:
                    index = progress.next_index[job.split]
                    progress.next_index[job.split] += 1
                    _record(journal, progress.done, writer.put(job.split, index, result))
                hooks.step()
        _record(journal, progress.done, writer.close())
    except BrokenProcessPool:  # a worker killed, or crashed in native code (a damaged file can segfault scipy)
        raise BadInput(
            f"{todo[placed].scene}: a worker process died reading this scene or one of the next "
            f"{WINDOW_PER_JOB * n_proc - 1}; samples finished so far are kept, re-run to resume"
        ) from None
    finally:
        journal.close()  # on an error too: what it holds so far is what a re-run resumes from
        remove_staging(cfg.out)  # the pool has shut down; after an error, what workers staged ahead is unplaced


def run_export(cfg: ExportConfig, hooks: Hooks = Hooks()) -> ExportReport:
    """Export every scene under cfg.root into cfg.out; resumes whatever an earlier run finished.

    Raises BadInput for unusable arguments or inputs as a whole, and (with `strict`) at the
    first bad scene; otherwise bad scenes are returned in the report's `skipped`.
    """
    started = time.perf_counter()
    out = Path(cfg.out)
    check_out_folder(out)  # before reading the dataset, not after
    plan = validate(cfg)
    try:
        progress = resume(out, plan, hooks)
        place_all(cfg, plan, progress, hooks)
        return _finish(out, plan, progress, started)
    except OSError as err:  # full disk, read-only or unwritable OUT, a file where a folder should be
        raise output_error(err, out) from None


def output_error(err: OSError, out: Path) -> BadInput:
    """One line for a write that failed; what the journal recorded so far stays valid for a re-run."""
    where = err.filename or out
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):  # a re-run meets the same wall
        return BadInput(f"{where}: not writable ({err.strerror}); choose another --out or fix its permissions")
    return BadInput(f"{where}: cannot write ({err.strerror or err}); samples finished so far are kept, re-run to resume")


def _finish(out: Path, plan: Plan, progress: Progress, started: float) -> ExportReport:
    """The manifest, class table and report of a completed run; the journal goes last."""
    done = progress.done
    counts: dict[str, int] = {split: sum(d.split == split for d in done) for split in SPLITS}
    write_text_atomic(out / "classes.csv", plan.classes.to_csv())
    write_manifest(out, done, plan.fingerprint, plan.settings_sha256)
    report = ExportReport(
        out=out,
        counts=counts,
        sensors=sensor_counts(done),
        resumed=progress.resumed,
        skipped=tuple(progress.skipped),
        warnings=tuple(w for d in sorted(done, key=lambda d: (d.split, d.index)) for w in d.warnings),
        seconds=time.perf_counter() - started,
        processed=len(progress.todo),
        mapping_fingerprint=plan.fingerprint,
        split_warnings=empty_splits(out, counts),
    )
    write_text_atomic(out / "report.json", report_json(report, plan.settings))
    progress.journal.remove()
    return report


def empty_splits(out: Path, counts: dict[str, int]) -> tuple[str, ...]:
    """A split that came out empty although samples were exported: `train` would then run
    without validation (or learn from nothing) without a word, so the export says it."""
    if not sum(counts.values()):
        return ()
    consequence = {"train": "train has nothing to learn from", "val": "train runs without validation"}
    return tuple(f"{out}: no {split} samples; {consequence[split]} (see --val-fraction, --split-file, --seed)"
                 for split, n in counts.items() if n == 0)  # fmt: skip


def _record(journal: Journal, done: list[Done], completed: Iterable[Done]) -> None:
    records = list(completed)
    done.extend(records)
    journal.append(*records)


def sensor_counts(done: list[Done]) -> dict[str, dict[str, int]]:
    """Samples per sensor folder and split, in sunprep's sensor order; scenes outside one are left out."""
    counts: dict[str, dict[str, int]] = {f: dict.fromkeys(SPLITS, 0) for f in SENSOR_FOLDERS}
    for d in done:
        if d.sensor in counts:
            counts[d.sensor][d.split] += 1
    return {f: c for f, c in counts.items() if any(c.values())}


def report_json(report: ExportReport, settings: dict) -> str:
    """`report.json`: counts, settings, skipped scenes with reasons, timings."""
    body = {
        "counts": report.counts,
        "sensors": report.sensors,
        "exported": sum(report.counts.values()),
        "resumed_from_earlier_run": report.resumed,
        "skipped": [asdict(s) for s in report.skipped],  # faults, and scenes left out unlabeled (`unlabeled`)
        "left_out_unlabeled": sum(s.unlabeled for s in report.skipped),
        "warnings": list(report.warnings),
        "split_warnings": list(report.split_warnings),
        "settings": settings,
        "timings": {
            "seconds": round(report.seconds, 3),
            "scenes_read": report.processed,
            "scenes_per_second": round(report.processed / report.seconds, 2) if report.seconds > 0 else None,
        },
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"
