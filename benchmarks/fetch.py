"""Ranged fetch of the kv2 subset against a plain download of the same bytes, one local server.

    python benchmarks/fetch.py [--scenes 40] [--workers 4] [--repeats 3] [--work DIR]

Builds a SUNRGBD.zip (ZIP64, full-size 730x530 kv2 scenes plus the other sensors' folders),
serves it from `fixtures.server` in a separate process on 127.0.0.1, and prints from one run:
(a) bytes needed: the central directory and end records plus every kv2 member's extent (local
header, data, descriptor), worked out with the stdlib `zipfile`; (b) bytes `sunprep fetch`
received / bytes needed (target <= 1.02); (c) the floor: one plain sequential GET of as many
bytes from the same server, written to one file; (d) fetch throughput (needed bytes / s, files
inflated, CRC-checked and renamed into place) / floor throughput (target >= 0.9). Each side runs
`--repeats` times, alternating, and the best of each is compared. Two links: an emulated one
(`--rate` shared by all connections, `--latency` per response: what a distant server gives) and
raw loopback, where no network cost is left and the figure shows the local cost of delivering
files; for scale, the last line is only writing those files from memory.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fixtures/ lives at the repository root

from fixtures.archive import ZipLayout, write_release
from sunprep.fetch.run import FetchConfig, run_fetch

KV2 = "SUNRGBD/kv2/kinect2data/"


def needed_bytes(zip_path: Path) -> int:
    """Directory + end records + the extents of the kv2 members: what any subset fetch must read."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        ends = [i.header_offset for i in infos[1:]] + [zf.start_dir]
        members = sum(end - i.header_offset for i, end in zip(infos, ends) if i.filename.startswith(KV2))
        return members + zip_path.stat().st_size - zf.start_dir


def plain_download(url: str, n: int, target: Path) -> float:
    """Seconds for one sequential GET of the first `n` bytes, streamed to `target`."""
    with urllib3.PoolManager() as pool:
        began = time.perf_counter()
        resp = pool.request("GET", url, headers={"Range": f"bytes=0-{n - 1}"}, preload_content=False)
        with target.open("wb") as f:
            for chunk in resp.stream(256 * 1024):
                f.write(chunk)
        resp.release_conn()
        seconds = time.perf_counter() - began
    if target.stat().st_size != n:
        raise SystemExit(f"{url}: plain download got {target.stat().st_size} bytes, wanted {n}")
    return seconds


def write_floor(zip_path: Path, target: Path, repeats: int) -> float:
    """Best seconds to write the kv2 files, already inflated in memory, as files under `target`.

    Not a download at all: what this file system charges for creating that many files, which no
    fetch that delivers files can go below.
    """
    with zipfile.ZipFile(zip_path) as zf:
        files = [(i.filename, zf.read(i)) for i in zf.infolist() if i.filename.startswith(KV2) and not i.is_dir()]
    best = float("inf")
    for _ in range(repeats):
        shutil.rmtree(target, ignore_errors=True)
        began = time.perf_counter()
        for name, data in files:
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        best = min(best, time.perf_counter() - began)
    shutil.rmtree(target, ignore_errors=True)
    return best


def measure(zip_path: Path, work: Path, need: int, server_args: list[str], workers: int,
            repeats: int) -> tuple[float, float, int]:
    """Best seconds of the plain download and of the fetch, and the bytes the fetch received."""
    server = subprocess.Popen([sys.executable, "-m", "fixtures.server", str(zip_path), *server_args],
                              cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        plain, ranged, received = [], [], 0
        for _ in range(repeats):
            plain.append(plain_download(url, need, work / "plain.bin"))
            shutil.rmtree(work / "out", ignore_errors=True)
            began = time.perf_counter()
            [part] = run_fetch(FetchConfig(dest=work / "out", source=url, workers=workers))
            ranged.append(time.perf_counter() - began)
            received = part.bytes_fetched
            if part.failed or part.fetched != part.files:
                raise SystemExit(f"fetch failed: {part.failed[:3]}")
    finally:
        server.terminate()
        server.wait()
    return min(plain), min(ranged), received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=25e6, help="bytes/s of the emulated link")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds of the emulated round trip")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="sunprep-fetch-bench-"))
    zip_path = work / "SUNRGBD.zip"
    if not zip_path.exists():
        write_release(work, n=args.scenes, seed=0, size=(530, 730), layout=ZipLayout(zip64=True))
    need = needed_bytes(zip_path)
    with zipfile.ZipFile(zip_path) as zf:
        files = sum(1 for i in zf.infolist() if i.filename.startswith(KV2) and not i.is_dir())
    print(f"archive   {zip_path.stat().st_size / 1e6:8.1f} MB  ({args.scenes} kv2 scenes at 730x530 + other sensors, ZIP64)")
    print(f"needed    {need / 1e6:8.1f} MB  (directory + the {files} kv2 files' extents)")
    links = [("link", ["--rate", str(args.rate), "--latency", str(args.latency)],
              f"{args.rate / 1e6:g} MB/s shared, {args.latency * 1e3:g} ms per response"),
             ("loopback", [], f"unlimited: the cost of inflating, checking and writing {files} files shows")]
    for name, server_args, what in links:
        plain, ranged, received = measure(zip_path, work, need, server_args, args.workers, args.repeats)
        print(f"[{name}: {what}]")
        print(f"  fetched / needed    {received / need:8.4f}   (target <= 1.02)")
        print(f"  plain download      {need / plain / 1e6:8.1f} MB/s  (best of {args.repeats}: {plain:.3f} s)")
        print(f"  sunprep fetch -j{args.workers}   {need / ranged / 1e6:8.1f} MB/s  (best of {args.repeats}: {ranged:.3f} s)")
        print(f"  fetch / plain       {plain / ranged:8.2f}   (target >= 0.9)")
    floor = write_floor(zip_path, work / "floor", args.repeats)
    print(f"[disk: writing the same {files} files from memory, no network, no inflate]")
    print(f"  write floor         {need / floor / 1e6:8.1f} MB/s  (best of {args.repeats}: {floor:.3f} s)")


if __name__ == "__main__":
    main()
