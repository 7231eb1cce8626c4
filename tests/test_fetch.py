"""`sunprep fetch` against a 127.0.0.1 server serving a fixture archive in the real SUNRGBD/ layout."""

from __future__ import annotations

import itertools
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.archive import (
    TOOLBOX_SPLIT,
    ZipLayout,
    pack_dataset,
    write_release,
    write_toolbox_zip,
    write_zip,
)
from fixtures.server import serve
from sunprep.errors import BadInput, FetchError
from sunprep.fetch.directory import Member
from sunprep.fetch.ranged import plan_runs
from sunprep.fetch.run import LOCK, FetchConfig, run_fetch
from sunprep.fetch.store import STAGING

KV2 = "SUNRGBD/kv2/kinect2data/"


def tree_files(root: Path, under: str = "SUNRGBD") -> dict[str, bytes]:
    """Every file below `root/under`, by its path relative to `root`."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / under).rglob("*")) if p.is_file()}


def extents(zip_path: Path, prefix: str) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Byte extents of the members under `prefix` and of the directory, worked out with the stdlib.

    A member's extent runs from its header to the next member's header (the directory for the last).
    """
    with zipfile.ZipFile(zip_path) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.header_offset)
        bounds = [i.header_offset for i in infos[1:]] + [zf.start_dir]
        chosen = [(i.header_offset, end) for i, end in zip(infos, bounds) if i.filename.startswith(prefix)]
        return chosen, (zf.start_dir, zip_path.stat().st_size)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_release(tmp_path_factory.mktemp("release"), n=12, seed=3)


def fetch(source: str, dest: Path, **kw) -> list:
    return run_fetch(FetchConfig(dest=dest, source=source, backoff=0.01, **kw))


def test_only_kv2_members_arrive_byte_identical(release: Path, tmp_path: Path) -> None:
    with serve({"SUNRGBD.zip": release}) as server:
        [part] = fetch(server.url("SUNRGBD.zip"), tmp_path)
    want = {name: data for name, data in tree_files(release.parent / "tree").items() if name.startswith(KV2)}
    assert tree_files(tmp_path) == want
    assert len(want) == part.files == part.fetched > 50 and part.present == 0 and part.failed == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK, "SUNRGBD"]  # staging folder gone, the lock file stays
    assert sorted(p.name for p in (tmp_path / "SUNRGBD").iterdir()) == ["kv2"]


def test_server_sends_only_the_directory_and_the_members(release: Path, tmp_path: Path) -> None:
    members, directory = extents(release, KV2)
    allowed = [*members, directory]
    with serve({"SUNRGBD.zip": release}) as server:
        [part] = fetch(server.url("SUNRGBD.zip"), tmp_path, workers=3)
        bodies = list(server.tally.bodies)
        sent = server.tally.bytes_sent
    for _, start, end in bodies:  # each byte sent lies in the directory or a kv2 member's extent
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in allowed)
        assert covered == end - start, (start, end)
    needed = sum(b - a for a, b in allowed)
    assert sent == part.bytes_fetched <= needed
    assert sent >= sum(b - a for a, b in members)  # every member was read once
    assert part.archive_bytes == release.stat().st_size > sent


@pytest.mark.parametrize("layout", [
    ZipLayout(zip64=True),
    ZipLayout(descriptor=True),
    ZipLayout(zip64=True, descriptor=True, seed=5),
], ids=["zip64", "descriptor", "zip64-descriptor-shuffled"])
def test_archive_variants(release: Path, tmp_path: Path, layout: ZipLayout) -> None:
    zip_path = tmp_path / "variant.zip"
    pack_dataset(release.parent / "tree", zip_path, layout)
    tail = zip_path.read_bytes()[-22:]
    assert (struct.unpack("<I", tail[16:20])[0] == 0xFFFFFFFF) == layout.zip64  # EOCD defers to ZIP64 records
    with serve({"v.zip": zip_path}) as server:
        [part] = fetch(server.url("v.zip"), tmp_path / "out", workers=2)
    assert tree_files(tmp_path / "out") == {k: v for k, v in tree_files(release.parent / "tree").items() if k.startswith(KV2)}
    assert part.failed == ()


def test_local_zip_folder_and_http_give_the_same_tree(release: Path, tmp_path: Path) -> None:
    fetch(str(release), tmp_path / "zip")
    fetch(str(release.parent / "tree"), tmp_path / "folder")
    fetch(str(release.parent / "tree" / "SUNRGBD"), tmp_path / "folder2")  # the SUNRGBD/ folder itself
    with serve({"SUNRGBD.zip": release}) as server:
        fetch(server.url("SUNRGBD.zip"), tmp_path / "http")
    trees = [tree_files(tmp_path / name) for name in ("zip", "folder", "folder2", "http")]
    assert len(trees[0]) > 50
    assert all(tree == trees[0] for tree in trees)
    assert {p.relative_to(tmp_path / "zip").as_posix() for p in (tmp_path / "zip").rglob("*") if p.is_dir()} == \
        {p.relative_to(tmp_path / "folder").as_posix() for p in (tmp_path / "folder").rglob("*") if p.is_dir()}


def test_rerun_fetches_only_missing_or_damaged_files(release: Path, tmp_path: Path) -> None:
    with serve({"SUNRGBD.zip": release}) as server:
        url = server.url("SUNRGBD.zip")
        fetch(url, tmp_path)
        files = sorted(p for p in (tmp_path / KV2).rglob("*") if p.is_file())
        damaged, missing = files[3], files[10]
        data = bytearray(damaged.read_bytes())
        data[len(data) // 2] ^= 0x01  # same size, different CRC
        damaged.write_bytes(bytes(data))
        missing.unlink()
        server.tally.reset()
        [part] = fetch(url, tmp_path)
        bodies = list(server.tally.bodies)
    assert (part.fetched, part.present, part.failed) == (2, len(files) - 2, ())
    assert tree_files(tmp_path) == {k: v for k, v in tree_files(release.parent / "tree").items() if k.startswith(KV2)}
    members, directory = extents(release, KV2)
    with zipfile.ZipFile(release) as zf:
        offsets = {zf.getinfo(p.relative_to(tmp_path).as_posix()).header_offset for p in (damaged, missing)}
    redone = [(a, b) for a, b in members if a in offsets]
    for _, start, end in bodies:  # only the directory and the two files' extents (and folder entries between)
        assert start >= directory[0] or any(a <= start and end <= b for a, b in redone), (start, end)


def test_toolbox_split_and_mapping(release: Path, tmp_path: Path) -> None:
    toolbox = tmp_path / "SUNRGBDtoolbox.zip"
    split = write_toolbox_zip(toolbox, ["kv2/kinect2data/a", "kv2/kinect2data/b", "kv2/kinect2data/c"])
    mapping = tmp_path / "seglistall.csv"
    mapping.write_bytes("\ufeffraw,clean\r\nchair2,chair\r\n".encode())
    files = {"SUNRGBD.zip": release, "SUNRGBDtoolbox.zip": toolbox, "seglistall.csv": mapping}
    with serve(files) as server:
        parts = fetch(server.url("SUNRGBD.zip"), tmp_path / "out", toolbox=True,
                      toolbox_source=server.url("SUNRGBDtoolbox.zip"), mapping_url=server.url("seglistall.csv"))
        assert [p.failed for p in parts] == [(), (), ()]
        assert parts[1].bytes_fetched == toolbox.stat().st_size  # under 4 kB: the first request had it all
        assert (tmp_path / "out" / TOOLBOX_SPLIT).read_bytes() == split
        assert (tmp_path / "out" / "seglistall.csv").read_bytes() == mapping.read_bytes()
        assert not (tmp_path / "out" / "SUNRGBDtoolbox" / "readData").exists()  # only what export needs
        again = fetch(server.url("SUNRGBD.zip"), tmp_path / "out", toolbox=True, seg2d=True,
                      toolbox_source=server.url("SUNRGBDtoolbox.zip"), mapping_url=server.url("seglistall.csv"))
    assert [(p.fetched, p.present) for p in again[1:]] == [(0, 1), (0, 1)]
    assert again[1].failed == ("SUNRGBDtoolbox/Metadata/SUNRGBD2Dseg.mat: not in the archive",
                               "SUNRGBDtoolbox/Metadata/SUNRGBDMeta.mat: not in the archive")
    with zipfile.ZipFile(toolbox) as zf:  # the toolbox already unpacked serves too
        zf.extractall(tmp_path / "unpacked")
    [_, folder] = fetch(str(release), tmp_path / "from-folder", toolbox=True,
                        toolbox_source=str(tmp_path / "unpacked" / "SUNRGBDtoolbox"))
    assert (folder.fetched, folder.failed) == (1, ())
    assert tree_files(tmp_path / "from-folder", "SUNRGBDtoolbox") == {TOOLBOX_SPLIT: split}


def test_member_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    zip_path = tmp_path / "evil.zip"
    write_zip(zip_path, [(KV2 + "s/scene.txt", b"office"), (KV2 + "../../../escaped.txt", b"x")])
    [part] = fetch(str(zip_path), tmp_path / "out")
    assert part.fetched == 1 and part.failed == (f"{KV2}../../../escaped.txt: member path escapes the destination folder",)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_bad_inputs_are_one_line_errors(release: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"no file in the archive under SUNRGBD/kv9"):
        fetch(str(release), tmp_path / "a", subsets=("kv9",))
    with pytest.raises(FetchError, match=r"no file in the folder under SUNRGBD/kv9"):
        fetch(str(release.parent / "tree"), tmp_path / "a2", subsets=("kv9",))
    with pytest.raises(BadInput, match="no such file or folder"):
        fetch(str(tmp_path / "absent.zip"), tmp_path / "b")
    with pytest.raises(BadInput, match="not a folder inside"):
        fetch(str(release), tmp_path / "c", subsets=("../etc",))
    (tmp_path / "not.zip").write_bytes(b"plain text, no zip here" * 10)
    with pytest.raises(FetchError, match="not a readable zip archive"):
        fetch(str(tmp_path / "not.zip"), tmp_path / "d")


@st.composite
def archives(draw: st.DrawFn) -> tuple[list[Member], set[str]]:
    """Members laid end to end (folders among files) and the set of files already present."""
    members, offset = [], 0
    for i in range(draw(st.integers(1, 30))):
        is_dir = draw(st.booleans()) and i % 3 == 0
        size = draw(st.integers(30, 3 << 20)) if not is_dir else 60
        gap = draw(st.sampled_from([0, 0, 0, 16]))  # a data descriptor or an outside member between
        name = f"{KV2}{i:03d}" + ("/" if is_dir else ".bin")
        members.append(Member(name, offset, offset + size, 0, 0, 0, 0, 0, name.encode()))
        offset += size + gap
    files = [m.name for m in members if not m.is_dir]
    present = set(draw(st.lists(st.sampled_from(files), unique=True))) if files else set()
    return members, present


@settings(max_examples=60, deadline=None)
@given(archives(), st.integers(1, 8))
def test_runs_cover_each_needed_file_once_and_nothing_else(case: tuple[list[Member], set[str]], workers: int) -> None:
    members, present = case
    runs = plan_runs(members, lambda m: m.name not in present, workers)
    in_runs = [m for run in runs for m in run]
    assert sorted(m.name for m in in_runs if not m.is_dir) == sorted(
        m.name for m in members if not m.is_dir and m.name not in present)
    assert len({m.name for m in in_runs}) == len(in_runs)
    for run in runs:
        assert not run[0].is_dir and not run[-1].is_dir
        assert all(a.end == b.offset for a, b in itertools.pairwise(run))  # one contiguous request per run


@settings(max_examples=15, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,6}(/[a-z0-9_][a-z0-9_.]{0,7}){0,2}", fullmatch=True), st.binary(max_size=5000),
                    min_size=1, max_size=8),
    st.booleans(), st.booleans(), st.integers(0, 3),
)
def test_fetch_equals_stdlib_extraction(tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes],
                                        zip64: bool, descriptor: bool, seed: int) -> None:
    names = {f"{KV2}{name}": data for name, data in files.items()
             if not any(other.startswith(name + "/") for other in files)}  # a name is a file or a folder
    tmp = tmp_path_factory.mktemp("prop")
    write_zip(tmp / "a.zip", [*names.items(), ("SUNRGBD/kv1/other.txt", b"kv1")], ZipLayout(zip64, descriptor, seed))
    [part] = fetch(str(tmp / "a.zip"), tmp / "out")
    with zipfile.ZipFile(tmp / "a.zip") as zf:
        want = {i.filename: zf.read(i) for i in zf.infolist() if i.filename.startswith(KV2)}
    assert tree_files(tmp / "out") == want and part.failed == ()
    assert not (tmp / "out" / STAGING).exists()
