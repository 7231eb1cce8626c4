"""Faults a real server and network produce, injected by the 127.0.0.1 test server."""

from __future__ import annotations

import struct
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.archive import ZipLayout, pack_dataset, write_release
from fixtures.server import Faults, serve
from sunprep.cli.app import app
from sunprep.errors import FetchError
from sunprep.fetch.run import LOCK, FetchConfig, run_fetch
from sunprep.fetch.sources import RangesIgnored

KV2 = "SUNRGBD/kv2/kinect2data/"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_release(tmp_path_factory.mktemp("release"), n=10, seed=7)


@pytest.fixture(scope="module")
def expected(release: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(release) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if i.filename.startswith(KV2) and not i.is_dir()}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != LOCK}


def fetch(url: str, dest: Path, **kw) -> list:
    return run_fetch(FetchConfig(dest=dest, source=url, backoff=0.01, **kw))


def member_data_offset(release: Path, method: int) -> tuple[str, int]:
    """The largest kv2 file compressed with `method`, and the absolute offset of its data's middle byte."""
    with zipfile.ZipFile(release) as zf:
        info = max((i for i in zf.infolist() if i.filename.startswith(KV2) and i.compress_type == method),
                   key=lambda i: i.compress_size)
    header = release.read_bytes()[info.header_offset: info.header_offset + 30]
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.filename, info.header_offset + 30 + name_len + extra_len + info.compress_size // 2


@pytest.mark.parametrize("faults", [
    Faults(drops=3, cut_after=5000),
    Faults(truncations=3, cut_after=20000),
    Faults(unavailable=2),
], ids=["dropped-mid-body", "truncated-body", "503-before-success"])
def test_transient_faults_are_retried(release: Path, expected: dict[str, bytes], tmp_path: Path, faults: Faults) -> None:
    with serve({"a.zip": release}, faults) as server:
        [part] = fetch(server.url("a.zip"), tmp_path, workers=2)
        assert (server.faults.drops, server.faults.truncations, server.faults.unavailable) == (0, 0, 0)  # all fired
    assert tree(tmp_path) == expected
    assert part.failed == () and part.retries >= 2


def test_resume_after_a_drop_asks_only_for_the_missing_bytes(release: Path, tmp_path: Path) -> None:
    with serve({"a.zip": release}, Faults(drops=1, cut_after=30000)) as server:
        [part] = fetch(server.url("a.zip"), tmp_path, workers=1)
        bodies = sorted(server.tally.bodies, key=lambda b: b[1])
    cut = [b for b in bodies if b[2] - b[1] == 30000]
    assert part.retries == 1 and len(cut) == 1
    assert any(start == cut[0][2] for _, start, _ in bodies)  # the next request starts where the drop was


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_flipped_byte_is_caught_and_fetched_again(release: Path, expected: dict[str, bytes], tmp_path: Path,
                                                   method: int) -> None:
    _name, offset = member_data_offset(release, method)
    with serve({"a.zip": release}, Faults(flips=1, flip_offset=offset)) as server:
        [part] = fetch(server.url("a.zip"), tmp_path)
        covering = [b for b in server.tally.bodies if b[1] <= offset < b[2]]
    assert server.faults.flips == 0 and len(covering) == 2  # the run, then the member alone
    assert tree(tmp_path) == expected and part.failed == ()


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_byte_flipped_every_time_is_reported_not_kept(release: Path, expected: dict[str, bytes], tmp_path: Path,
                                                      method: int) -> None:
    name, offset = member_data_offset(release, method)
    with serve({"a.zip": release}, Faults(flips=99, flip_offset=offset)) as server:
        [part] = fetch(server.url("a.zip"), tmp_path)
    assert len(part.failed) == 1 and part.failed[0].startswith(f"{name}: ")
    assert part.failed[0].endswith("(fetched twice)")
    assert ("CRC-32" in part.failed[0]) if method == zipfile.ZIP_STORED else ("CRC-32" in part.failed[0] or "deflate" in part.failed[0])
    assert tree(tmp_path) == {k: v for k, v in expected.items() if k != name}


def test_server_without_ranges_is_detected_at_once_then_full_streams(release: Path, expected: dict[str, bytes],
                                                                    tmp_path: Path) -> None:
    with serve({"a.zip": release}, Faults(ranges=False)) as server:
        began = time.monotonic()
        with pytest.raises(RangesIgnored, match=r"ignores byte ranges .* re-run with --full"):
            fetch(server.url("a.zip"), tmp_path / "ranged")
        assert time.monotonic() - began < 5 and server.tally.requests == 1  # no retry storm
        [part] = fetch(server.url("a.zip"), tmp_path / "full", full=True)
        assert tree(tmp_path / "full") == expected and part.failed == ()
        assert part.bytes_fetched == part.archive_bytes == release.stat().st_size
        (tmp_path / "full" / sorted(expected)[5]).unlink()
        [again] = fetch(server.url("a.zip"), tmp_path / "full", full=True)
    assert (again.fetched, again.present, again.failed) == (1, len(expected) - 1, ())
    assert tree(tmp_path / "full") == expected


def test_full_stream_survives_drops_and_resumes_verified(release: Path, expected: dict[str, bytes], tmp_path: Path) -> None:
    zip_path = tmp_path / "descriptor.zip"  # data descriptors: the stream must find each member's end itself
    pack_dataset(release.parent / "tree", zip_path, ZipLayout(descriptor=True, zip64=True))
    with serve({"a.zip": zip_path}, Faults(ranges=False, drops=2, cut_after=40000)) as server:
        [part] = fetch(server.url("a.zip"), tmp_path / "out", full=True)
    assert part.retries == 2 and part.failed == () and part.fetched == len(expected)
    assert tree(tmp_path / "out") == expected
    assert part.bytes_fetched > part.archive_bytes  # without ranges, a resumed stream re-reads its start


def test_silent_server_times_out_and_is_retried(release: Path, expected: dict[str, bytes], tmp_path: Path) -> None:
    with serve({"a.zip": release}, Faults(stalls=2, stall_for=1.0)) as server:
        began = time.monotonic()
        [part] = fetch(server.url("a.zip"), tmp_path, timeout=0.2)
        assert server.faults.stalls == 0 and time.monotonic() - began < 5
    assert part.retries == 2 and part.failed == () and tree(tmp_path) == expected


def test_missing_archive_is_a_one_line_error(tmp_path: Path, release: Path) -> None:
    with serve({"a.zip": release}) as server:
        with pytest.raises(FetchError, match=r"/nothing.zip: HTTP 404$"):
            fetch(server.url("nothing.zip"), tmp_path)
        assert server.tally.requests == 1  # a 404 is not retried


def test_dead_server_gives_up_after_the_retries(release: Path, tmp_path: Path) -> None:
    with serve({"a.zip": release}, Faults(unavailable=100)) as server:
        with pytest.raises(FetchError, match=r"HTTP 503 \(gave up after 2 retries\)"):
            fetch(server.url("a.zip"), tmp_path, retries=2)
        assert server.tally.requests == 3


def test_cli_exit_codes_and_summary(release: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    with serve({"a.zip": release}, Faults()) as server:
        ok = runner.invoke(app, ["fetch", "--source", server.url("a.zip"), "--dest", str(tmp_path / "ok"), "--quiet"])
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.startswith("SUNRGBD/kv2/kinect2data: ") and "0 retries, 0 failed" in ok.stdout
        name, offset = member_data_offset(release, zipfile.ZIP_STORED)
        server.faults.flips, server.faults.flip_offset = 99, offset
        bad = runner.invoke(app, ["fetch", "--source", server.url("a.zip"), "--dest", str(tmp_path / "bad"), "-q"])
        assert bad.exit_code == 3 and f"  failed: {name}: " in bad.stdout
        assert "error: " in bad.stderr and "1 file(s) not delivered" in bad.stderr
        server.faults.flips, server.faults.ranges = 0, False
        norange = runner.invoke(app, ["fetch", "--source", server.url("a.zip"), "--dest", str(tmp_path / "nr"), "-q"])
        assert norange.exit_code == 3 and "--full" in norange.stderr and norange.stderr.startswith("error: ")
