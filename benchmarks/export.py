"""Export throughput against the decode floor, on full-size (730x530) generated kinect2 scenes,
or with --mixed on scenes of all ten sensor folders at their own sizes (561x427, 730x530, 640x480).

    python benchmarks/export.py [--scenes 200] [--workers 2] [--rounds 3] [--work DIR] [--mixed]

Prints, from one run: (a) the decode floor: scenes/s of only reading each scene's JPEG, depth
PNG and seg.mat with the same number of processes (same pool kind); (b) export scenes/s per
format; (c) export / floor; (d) peak resident memory of the parent and of the largest worker.
Each measurement runs in a fresh interpreter so its peak memory is its own, and CPU time per
scene is printed too: on a shared machine it is steadier than wall-clock rates. Scenes carry
seg.mat, as every real kinect2 scene does. The target is export >= 0.9 of the floor at 2 workers, fsync included.

--mixed spreads the scenes over the sensor folders in the shares the real allsplit.mat gives
them (read from ../shared when present; equal shares otherwise), exports them all
(`--sensors all`) and extrapolates the time of the whole 10,335 from the measured rates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fixtures/ lives at the repository root

# sunprep and fixtures are imported inside the functions that use them: the floor's workers
# import this module, and they should pay only for what decoding needs.

KV2_SIZE = (530, 730)
ALLSPLIT = Path(__file__).resolve().parents[2] / "shared" / "data" / "sunrgbd_toolbox" / "traintestSUNRGBD" / "allsplit.mat"
BENCHMARK_IMAGES = 10_335  # SUN RGB-D's standard benchmark: every sensor, train and test
NAMES = {"floor": "decode floor", "floor-keep": "floor, malloc kept", "cityscapes-nosync": "cityscapes, no fsync"}
NOSYNC = "-nosync"  # the same export with os.fsync a no-op: what durability costs (see sunprep.export.manifest)


def _write_one(args: tuple[Path, int]) -> None:
    from fixtures.scenes import write_scene

    scene_dir, seed = args
    write_scene(scene_dir, seed=seed, size=KV2_SIZE, label_source="seg.mat")


def make_dataset(root: Path, n: int, workers: int) -> None:
    """`n` full-size seg.mat scenes under root/SUNRGBD/kv2/kinect2data (kept between runs)."""
    from fixtures.scenes import kv2_scene_name

    kv2 = root / "SUNRGBD" / "kv2" / "kinect2data"
    rng = np.random.default_rng(0)
    todo = [(kv2 / kv2_scene_name(i + 1, rng), i) for i in range(n)]
    todo = [(d, s) for d, s in todo if not (d / "seg.mat").is_file()]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_one, todo))


def sensor_shares() -> tuple[dict[str, float], str]:
    """Each sensor folder's share of the 10,335 images, from the real split file when at hand."""
    from sunprep.export.splits import load_split_file
    from sunprep.sunrgbd.sensors import SENSOR_FOLDERS, sensor_of

    if not ALLSPLIT.is_file():
        return dict.fromkeys(SENSOR_FOLDERS, 1 / len(SENSOR_FOLDERS)), "equal shares (no allsplit.mat beside the project)"
    keys = load_split_file(ALLSPLIT).by_key
    return {f: sum(sensor_of(k) == f for k in keys) / len(keys) for f in SENSOR_FOLDERS}, f"shares of {ALLSPLIT.name}"


def _write_sensor(args: tuple[Path, str, int]) -> None:
    from fixtures.sensors import write_sensor_dataset

    root, folder, n = args
    write_sensor_dataset(root, {folder: n}, seed=0, sensors=(folder,), label_source="seg.mat")


def _scenes_in(folder: Path) -> int:
    return sum(1 for seg in folder.rglob("seg.mat")) if folder.is_dir() else 0


def make_mixed_dataset(root: Path, n: int, workers: int) -> dict[str, int]:
    """About `n` full-size seg.mat scenes over all sensor folders in their real shares, at least
    one each (kept between runs); returns the count per folder."""
    shares, _ = sensor_shares()
    counts = {f: max(1, round(n * s)) for f, s in shares.items()}
    todo = [(root, f, c) for f, c in counts.items() if _scenes_in(root / "SUNRGBD" / f) < c]  # a killed run's part is redone
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_write_sensor, todo))
    return counts


def decode_only(scene_dir: Path) -> int:
    """The floor: decode the JPEG, the refined depth PNG and seg.mat, nothing else."""
    with Image.open(next((scene_dir / "image").glob("*.jpg"))) as im:
        rgb = np.asarray(im.convert("RGB"))
    with Image.open(next((scene_dir / "depth_bfx").glob("*.png"))) as im:
        depth = np.asarray(im)
    seg = scipy.io.loadmat(scene_dir / "seg.mat")
    return rgb.size + depth.size + seg["seglabel"].size


def measure(what: str, root: Path, out: Path, workers: int, mixed: bool) -> dict:
    """One measurement in this process: seconds, CPU seconds of all processes, peak RSS (MiB).

    The workers are forked children, joined when their pool shuts down, so RUSAGE_CHILDREN
    holds their CPU time and the largest one's peak memory.
    """
    from sunprep.export.run import (
        POOL_CONTEXT,
        ExportConfig,
        keep_freed_memory,
        run_export,
    )
    from sunprep.sunrgbd.discover import discover_scenes
    from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS

    sensors = SENSOR_FOLDERS if mixed else DEFAULT_SENSOR_FOLDERS
    scenes = discover_scenes(root, sensors)
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    cpu_before = sum(sum(resource.getrusage(w)[:2]) for w in who)
    start = time.perf_counter()
    if what in ("floor", "floor-keep"):
        init = keep_freed_memory if what == "floor-keep" else None
        with ProcessPoolExecutor(workers, mp_context=POOL_CONTEXT, initializer=init) as pool:  # the export's pool kind
            list(pool.map(decode_only, scenes, chunksize=4))
    else:
        fmt = what.removesuffix(NOSYNC)
        if what.endswith(NOSYNC):
            os.fsync = lambda fd: None  # this child only; its forked workers inherit it
        report = run_export(ExportConfig(root=root, out=out, format=fmt, sensors=sensors, workers=workers))  # type: ignore[arg-type]
        assert sum(report.counts.values()) == len(scenes), report.skipped
    seconds = time.perf_counter() - start
    return {
        "what": what,
        "scenes": len(scenes),
        "seconds": seconds,
        "cpu_seconds": sum(sum(resource.getrusage(w)[:2]) for w in who) - cpu_before,
        "parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def run_child(what: str, root: Path, out: Path, workers: int, mixed: bool) -> dict:
    cmd = [sys.executable, __file__, "--measure", what, "--work", str(root), "--out", str(out), "--workers", str(workers)]
    cmd += ["--mixed"] if mixed else []
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is kept, the spread shown")
    ap.add_argument("--work", type=Path, help="dataset folder to create or reuse (default: a temporary one)")
    ap.add_argument("--mixed", action="store_true", help="scenes of all ten sensor folders at their own sizes")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.work, args.out, args.workers, args.mixed)))
        return

    from sunprep.export.registry import FORMATS
    from sunprep.sunrgbd.discover import discover_scenes
    from sunprep.sunrgbd.sensors import DEFAULT_SENSOR_FOLDERS, SENSOR_FOLDERS

    with tempfile.TemporaryDirectory(prefix="sunprep-bench-") as tmp:
        root = args.work or Path(tmp) / "data"
        t = time.perf_counter()
        if args.mixed:
            counts = make_mixed_dataset(root, args.scenes, args.workers)
            took = time.perf_counter() - t
            print(f"dataset: {sum(counts.values())} scenes with seg.mat over all sensor folders, {sensor_shares()[1]}, at {root} ({took:.0f} s to generate or check)")
            print("  " + ", ".join(f"{f} {n}" for f, n in counts.items()))
        else:
            make_dataset(root, args.scenes, args.workers)
            took = time.perf_counter() - t
            print(f"dataset: {args.scenes} kinect2 scenes 730x530 with seg.mat at {root} ({took:.0f} s to generate or check)")
        for scene in discover_scenes(root, SENSOR_FOLDERS if args.mixed else DEFAULT_SENSOR_FOLDERS):  # warm the page cache: every run reads from memory
            for f in scene.rglob("*"):
                if f.is_file():
                    f.read_bytes()
        runs: dict[str, list[dict]] = {what: [] for what in ("floor", *FORMATS, f"cityscapes{NOSYNC}", "floor-keep")}
        for _ in range(args.rounds):  # interleaved, so a busy spell on the machine hits all alike
            for what, rounds in runs.items():
                rounds.append(run_child(what, root, Path(tmp) / f"out-{what}", args.workers, args.mixed))
                shutil.rmtree(Path(tmp) / f"out-{what}", ignore_errors=True)
        best = {what: min(rs, key=lambda r: r["seconds"]) for what, rs in runs.items()}
        floor_rate = best["floor"]["scenes"] / best["floor"]["seconds"]
        print(f"workers={args.workers}, export size 128x256 (fit crop), best of {args.rounds} interleaved rounds")
        print(f"{'what':<28}{'scenes/s':>10}{'all rounds':>14}{'vs floor':>10}{'CPU ms/scene':>14}{'parent MiB':>12}{'worker MiB':>12}")
        for what, r in best.items():
            rates = sorted(x["scenes"] / x["seconds"] for x in runs[what])
            name = NAMES.get(what, f"export {what}")
            cpu_ms = 1000 * min(x["cpu_seconds"] for x in runs[what]) / r["scenes"]
            mem = f"{r['parent_mib']:>12.0f}{r['worker_mib']:>12.0f}"
            spread = f"{rates[0]:.0f}-{rates[-1]:.0f}"
            print(f"{name:<28}{rates[-1]:>10.1f}{spread:>14}{rates[-1] / floor_rate:>10.2f}{cpu_ms:>14.1f}{mem}")
        print("scenes/s and vs floor: the best round; all rounds: the slowest to the fastest.")
        print("floor, malloc kept: not the floor; the same reads with the export workers' malloc settings")
        print("(sunprep.export.run.keep_freed_memory), to show what part of the ratio those settings give.")
        print("cityscapes, no fsync: the same export with fsync disabled; its ratio to `export cityscapes` is the cost")
        print("of durability (every sample's files fsynced before the journal records them).")
        print("CPU ms/scene: the least of all processes' CPU time per scene over the rounds, interpreter start-up of")
        print("the measuring process excluded; it changes little when other work shares the machine, unlike scenes/s.")
        if args.mixed:
            print(f"extrapolated to all {BENCHMARK_IMAGES:,} images (these sensor shares, workers={args.workers}, this machine):")
            for what in ("floor", *FORMATS):
                rate = max(x["scenes"] / x["seconds"] for x in runs[what])
                print(f"  {NAMES.get(what, f'export {what}'):<26}{BENCHMARK_IMAGES / rate / 60:8.1f} min at the best round's rate")


if __name__ == "__main__":
    main()
