"""A `sunprep fetch` process killed with SIGKILL mid-way, then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from fixtures.archive import write_release
from fixtures.server import Faults, serve
from sunprep.fetch.run import FetchConfig, run_fetch
from sunprep.fetch.store import STAGING

KV2 = "SUNRGBD/kv2/kinect2data/"
ROOT = Path(__file__).resolve().parents[1]


def delivered(dest: Path) -> dict[str, bytes]:
    """Files under their final names (the staging folder holds only partial ones)."""
    return {p.relative_to(dest).as_posix(): p.read_bytes()
            for p in sorted((dest / "SUNRGBD").rglob("*")) if p.is_file()} if (dest / "SUNRGBD").is_dir() else {}


def _kill_mid_way(cmd: list[str], dest: Path, more_than: int) -> dict[str, bytes]:
    """Run a fetch until it has delivered more than `more_than` files, SIGKILL it, return what is in place."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(delivered(dest)) <= more_than and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    return delivered(dest)


def test_killed_fetch_resumes_without_downloading_verified_files_again(tmp_path: Path) -> None:
    """Killed once, killed again while resuming, then run to the end: the same files, nothing sent twice."""
    release = write_release(tmp_path / "release", n=8, seed=11, size=(106, 146))
    with zipfile.ZipFile(release) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        ends = dict(zip((i.filename for i in infos), [i.header_offset for i in infos[1:]] + [zf.start_dir]))
        expected = {i.filename: zf.read(i) for i in infos if i.filename.startswith(KV2) and not i.is_dir()}
        offsets = {i.filename: i.header_offset for i in infos}
    dest = tmp_path / "out"
    with serve({"SUNRGBD.zip": release}, Faults(rate=160_000)) as server:  # a slow link: 64 KiB per 0.4 s
        cmd = [sys.executable, "-m", "sunprep", "fetch", "--source", server.url("SUNRGBD.zip"), "--dest", str(dest),
               "--workers", "2", "--quiet"]
        first = _kill_mid_way(cmd, dest, 0)
        assert 0 < len(first) < len(expected), (len(first), len(expected))
        server.tally.settle()  # the killed client's last body has been recorded
        server.tally.reset()
        second = _kill_mid_way(cmd, dest, len(first))  # the resume, interrupted too
        assert len(first) < len(second) < len(expected), (len(first), len(second), len(expected))
        for name in first:  # the resume sent no byte of what the first run had verified
            assert all(end <= offsets[name] or start >= ends[name] for _, start, end in server.tally.bodies), name
        assert all(expected[name] == data for name, data in second.items())  # nothing half-written in place

        server.faults.rate = 0.0
        server.tally.settle()
        server.tally.reset()
        [part] = run_fetch(FetchConfig(dest=dest, source=server.url("SUNRGBD.zip")))
        bodies = list(server.tally.bodies)
    assert delivered(dest) == expected
    assert (part.present, part.fetched, part.failed) == (len(second), len(expected) - len(second), ())
    for name in second:  # no byte of a file verified before the kills was sent again
        assert all(end <= offsets[name] or start >= ends[name] for _, start, end in bodies), name
    assert not (dest / STAGING).exists()
