"""Archives and situations that must not abort a fetch: bombs, clashing members, corrupt directories,
two fetches into one folder, redirects, a dead network."""

from __future__ import annotations

import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest
from filelock import FileLock
from typer.testing import CliRunner

from fixtures.archive import ZipLayout, write_release, write_zip
from fixtures.server import Faults, serve
from sunprep.cli.app import app
from sunprep.errors import FetchError
from sunprep.fetch import entry
from sunprep.fetch.run import LOCK, FetchConfig, PartReport, run_fetch
from sunprep.fetch.store import Store

KV2 = "SUNRGBD/kv2/kinect2data/"
ROOT = Path(__file__).resolve().parents[1]
BOMB = 64 << 20  # inflated bytes; it declares 1,000


def fetch(source: str, dest: Path, **kw: object) -> list[PartReport]:
    return run_fetch(FetchConfig(dest=dest, source=source, backoff=0.01, **kw))  # type: ignore[arg-type]


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "SUNRGBD").rglob("*")) if p.is_file()}


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The most bytes any sink of the store received, per member: what reached the disk."""
    most: dict[str, int] = {}
    real = Store.writing

    class Counting:
        def __init__(self, name: str, sink: BinaryIO) -> None:
            self.name, self.sink = name, sink
            most.setdefault(name, 0)

        def write(self, data: bytes) -> int:
            most[self.name] += len(data)
            return self.sink.write(data)

    @contextmanager
    def writing(self: Store, name: str) -> Iterator[Counting]:
        with real(self, name) as sink:
            yield Counting(name, sink)

    monkeypatch.setattr(Store, "writing", writing)
    return most


def bomb_zip(path: Path, descriptor: bool) -> dict[str, bytes]:
    good = {f"{KV2}a/scene.txt": b"office", f"{KV2}z/scene.txt": b"bedroom"}
    entries = [(f"{KV2}a/scene.txt", good[f"{KV2}a/scene.txt"]), (f"{KV2}m/bomb.png", bytes(BOMB)),
               (f"{KV2}z/scene.txt", good[f"{KV2}z/scene.txt"])]
    write_zip(path, entries, ZipLayout(descriptor=descriptor, declared=((f"{KV2}m/bomb.png", 1000),)))
    return good


@pytest.mark.parametrize("mode", ["local zip", "http ranges", "http --full", "http --full, data descriptors"])
def test_a_bomb_is_stopped_at_its_declared_size(tmp_path: Path, written: dict[str, int], mode: str) -> None:
    zip_path = tmp_path / "SUNRGBD.zip"
    good = bomb_zip(zip_path, descriptor="descriptors" in mode)
    assert zip_path.stat().st_size < 200_000  # 64 MiB of zeros deflate to almost nothing
    with serve({"SUNRGBD.zip": zip_path}) as server:
        source = str(zip_path) if mode == "local zip" else server.url("SUNRGBD.zip")
        [part] = fetch(source, tmp_path / "out", full="--full" in mode)
    assert files(tmp_path / "out") == good  # the rest is delivered, the bomb is not
    [failure] = part.failed
    assert failure.startswith(f"{KV2}m/bomb.png: inflates ")
    bound = 1000 if "descriptors" not in mode else entry.MAX_RATIO * zip_path.stat().st_size + entry.RATIO_SLACK
    assert written.get(f"{KV2}m/bomb.png", 0) <= bound < BOMB // 4


def test_a_stored_member_whose_sizes_disagree_is_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "SUNRGBD.zip"
    noise = random.Random(0).randbytes(2048)  # does not deflate: stored
    write_zip(zip_path, [(f"{KV2}a/x.bin", noise), (f"{KV2}b/scene.txt", b"office")],
              ZipLayout(declared=((f"{KV2}a/x.bin", 10),)))
    [part] = fetch(str(zip_path), tmp_path / "out")
    assert part.failed == (f"{KV2}a/x.bin: stored member of 2048 bytes declares 10 bytes (fetched twice)",)
    assert files(tmp_path / "out") == {f"{KV2}b/scene.txt": b"office"}


CLASHES = [
    (f"{KV2}x", b"a file"), (f"{KV2}x/y", b"under the file"),  # file, then a member inside it
    (f"{KV2}d/f", b"in a folder"), (f"{KV2}d", b"a file where the folder is"),  # the reverse
    (f"{KV2}link", b"/etc"), (f"{KV2}link/passwd", b"through the link"),  # a symlink, then a member under it
    (f"{KV2}zz/last.txt", b"delivered after all of them"),
]


@pytest.mark.parametrize("mode", ["local zip", "http ranges", "http --full"])
def test_clashing_members_are_reported_and_the_rest_delivered(tmp_path: Path, mode: str) -> None:
    zip_path = tmp_path / "SUNRGBD.zip"
    write_zip(zip_path, CLASHES, ZipLayout(symlinks=frozenset({f"{KV2}link"})))
    dest = tmp_path / "out"
    with serve({"SUNRGBD.zip": zip_path}) as server:
        source = str(zip_path) if mode == "local zip" else server.url("SUNRGBD.zip")
        [part] = fetch(source, dest, full="--full" in mode)
    want = {f"{KV2}x": b"a file", f"{KV2}d/f": b"in a folder", f"{KV2}zz/last.txt": b"delivered after all of them"}
    failed = [f"{KV2}x/y: cannot be written, {KV2}x is a file in {dest} (File exists)",
              f"{KV2}d: cannot be written, {KV2}d is a folder in {dest}",
              f"{KV2}link: a symbolic link in the archive; links are not extracted (a link could point outside the destination)"]
    if mode == "http --full":  # a link is known as one only from the directory at the end: written, then removed
        failed.append(f"{KV2}link/passwd: cannot be written, {KV2}link is a file in {dest} (File exists)")
    else:  # never written, so `link/` is a plain folder of the destination
        want[f"{KV2}link/passwd"] = b"through the link"
    assert files(dest) == want
    assert not (dest / KV2 / "link").is_symlink()
    assert sorted(part.failed) == sorted(failed)


def test_a_file_in_the_destination_where_a_folder_goes_is_reported(tmp_path: Path) -> None:
    release = write_release(tmp_path / "release", n=3, seed=2)
    dest = tmp_path / "out"
    with zipfile.ZipFile(release) as zf:
        scene = next(i.filename for i in zf.infolist() if i.filename.startswith(KV2) and i.filename.endswith("/image/"))
    (dest / scene).parent.mkdir(parents=True)
    (dest / scene.rstrip("/")).write_text("in the way")
    [part] = fetch(str(release), dest)
    assert part.failed and all(line.startswith(scene) and "is a file in" in line for line in part.failed)
    assert part.fetched > 10  # every other scene arrived


@pytest.mark.parametrize("via", ["local zip", "http"])
def test_a_directory_offset_past_the_end_is_a_corrupt_archive(tmp_path: Path, via: str) -> None:
    zip_path = tmp_path / "SUNRGBD.zip"
    write_zip(zip_path, [(f"{KV2}a/scene.txt", b"office")], ZipLayout(cd_offset_shift=10_000_000))
    with serve({"SUNRGBD.zip": zip_path}) as server:
        source = str(zip_path) if via == "local zip" else server.url("SUNRGBD.zip")
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"corrupt archive") as err:
            run_fetch(FetchConfig(dest=tmp_path / "out", source=source, backoff=1.0))
        assert time.monotonic() - started < 1.0  # said at once, not after retries
    assert "ignores byte ranges" not in str(err.value) and "\n" not in str(err.value)


def test_a_second_fetch_into_the_same_destination_is_refused(tmp_path: Path) -> None:
    release = write_release(tmp_path / "release", n=2, seed=3)
    dest = tmp_path / "out"
    dest.mkdir()
    with FileLock(dest / LOCK):  # what a running fetch holds
        result = CliRunner().invoke(app, ["fetch", "--source", str(release), "--dest", str(dest), "-q"])
    assert result.exit_code == 3
    assert result.output.strip() == f"error: {dest}: another fetch is writing {dest}; wait for it to finish"
    assert not (dest / "SUNRGBD").exists()


def test_two_fetch_processes_one_destination(tmp_path: Path) -> None:
    """The issue's case: the second must not delete the first's staging folder; the first completes."""
    release = write_release(tmp_path / "release", n=4, seed=4, size=(106, 146))
    dest = tmp_path / "out"
    with zipfile.ZipFile(release) as zf:
        want = {i.filename: zf.read(i) for i in zf.infolist() if i.filename.startswith(KV2) and not i.is_dir()}
    # A slow link: the first fetch takes about 20 s, so the second (a new Python, slow to start on a
    # loaded machine) surely finds it still running.
    with serve({"SUNRGBD.zip": release}, Faults(rate=12_000)) as server:
        cmd = [sys.executable, "-m", "sunprep", "fetch", "--source", server.url("SUNRGBD.zip"), "--dest", str(dest), "-q"]
        first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not files(dest) and time.monotonic() < deadline:  # it is mid-way, holding the lock
            time.sleep(0.02)
        second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
        still_running = first.poll() is None
        _, err = first.communicate(timeout=180)
    assert still_running
    assert second.returncode == 3 and second.stderr.strip() == f"error: {dest}: another fetch is writing {dest}; wait for it to finish"
    assert first.returncode == 0, err
    assert files(dest) == want and first.returncode == 0


def test_a_redirect_to_another_host_is_followed_and_said(tmp_path: Path) -> None:
    release = write_release(tmp_path / "release", n=2, seed=5)
    with serve({"SUNRGBD.zip": release}) as mirror:
        moved = mirror.url("SUNRGBD.zip").replace("127.0.0.1", "localhost")  # another host name, same machine
        with serve({}, redirects={"SUNRGBD.zip": moved}) as origin:
            result = CliRunner().invoke(app, ["fetch", "--source", origin.url("SUNRGBD.zip"),
                                              "--dest", str(tmp_path / "out"), "-q"])
            asked_origin = origin.tally.requests
    assert result.exit_code == 0, result.output
    assert f"redirected to {moved}" in result.output
    assert asked_origin == 1  # later range requests go straight to the mirror
    with zipfile.ZipFile(release) as zf:
        assert len(files(tmp_path / "out")) == sum(i.filename.startswith(KV2) and not i.is_dir() for i in zf.infolist())


def test_retries_are_said_as_they_happen(tmp_path: Path) -> None:
    with serve({}) as server:
        dead = server.url("SUNRGBD.zip").rsplit(":", 1)[0] + ":9/SUNRGBD.zip"  # discard port: nothing listens
    result = CliRunner().invoke(app, ["fetch", "--source", dead, "--dest", str(tmp_path / "out"), "--retries", "2"])
    lines = result.output.splitlines()
    retrying = [line for line in lines if line.startswith("retrying ")]
    assert [line.split("(retry ")[1] for line in retrying] == ["1 of 2 in 0.5 s)", "2 of 2 in 1.0 s)"]
    assert all("cannot connect" in line for line in retrying)
    assert result.exit_code == 3 and lines[-1].startswith("error: ") and "gave up after 2 retries" in lines[-1]


def test_the_retry_count_restarts_after_progress(tmp_path: Path) -> None:
    """Eight drops, each after some bytes arrived, with one retry allowed: progress resets the count."""
    release = write_release(tmp_path / "release", n=2, seed=6, size=(212, 292))
    with serve({"SUNRGBD.zip": release}, Faults(drops=8, cut_after=5000)) as server:  # the 4 KiB tail is never cut
        [part] = fetch(server.url("SUNRGBD.zip"), tmp_path / "out", workers=1, retries=1)
        assert server.faults.drops == 0
    assert part.failed == () and part.retries == 8
