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


def test_killed_fetch_resumes_without_downloading_verified_files_again(tmp_path: Path) -> None:
    release = write_release(tmp_path / "release", n=8, seed=11, size=(106, 146))
    with zipfile.ZipFile(release) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        ends = dict(zip((i.filename for i in infos), [i.header_offset for i in infos[1:]] + [zf.start_dir]))
        expected = {i.filename: zf.read(i) for i in infos if i.filename.startswith(KV2) and not i.is_dir()}
        offsets = {i.filename: i.header_offset for i in infos}
    dest = tmp_path / "out"
    with serve({"SUNRGBD.zip": release}, Faults(rate=160_000)) as server:  # a slow link: 64 KiB per 0.4 s
        proc = subprocess.Popen(
            [sys.executable, "-m", "sunprep", "fetch", "--source", server.url("SUNRGBD.zip"), "--dest", str(dest),
             "--jobs", "2", "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not delivered(dest) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL  # killed, not finished
        before = delivered(dest)
        assert 0 < len(before) < len(expected), (len(before), len(expected))
        assert all(expected[name] == data for name, data in before.items())  # nothing half-written in place

        server.faults.rate = 0.0
        server.tally.reset()
        [part] = run_fetch(FetchConfig(dest=dest, source=server.url("SUNRGBD.zip")))
        bodies = list(server.tally.bodies)
    assert delivered(dest) == expected
    assert (part.present, part.fetched, part.failed) == (len(before), len(expected) - len(before), ())
    for name in before:  # no byte of a file verified before the kill was sent again
        assert all(end <= offsets[name] or start >= ends[name] for _, start, end in bodies), name
    assert not (dest / STAGING).exists()
