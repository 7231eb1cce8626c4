"""Scene discovery from the SUNRGBD root, its parent, kv2/kinect2data, or a plain folder of scenes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fixtures.scenes import write_dataset, write_scene
from sunprep.errors import BadInput
from sunprep.export.run import ExportConfig, run_export
from sunprep.sunrgbd.check import ScanConfig, run_scan
from sunprep.sunrgbd.discover import discover_scenes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("ds")
    return root, write_dataset(root, 4, seed=11, size=(12, 16), other_sensors=True)


def test_from_parent_of_sunrgbd(dataset: tuple[Path, list[Path]]) -> None:
    root, kv2 = dataset
    assert discover_scenes(root) == kv2  # other sensors left out


@pytest.mark.parametrize("sub", ["SUNRGBD", "SUNRGBD/kv2/kinect2data"])
def test_from_sunrgbd_or_kinect2data(dataset: tuple[Path, list[Path]], sub: str) -> None:
    root, kv2 = dataset
    assert discover_scenes(root / sub) == kv2


def test_order_is_sorted_and_stable(dataset: tuple[Path, list[Path]]) -> None:
    root, _kv2 = dataset
    names = [p.name for p in discover_scenes(root)]
    assert names == sorted(names) and len(names) == 4 and names[0].startswith("000001_")


def test_plain_folder_of_scenes_nested(tmp_path: Path) -> None:
    for rel in ("b/scene2", "a", "b/scene1"):
        write_scene(tmp_path / rel, seed=1, size=(8, 8), label_source="none")
    (tmp_path / "notes").mkdir()
    assert [p.relative_to(tmp_path).as_posix() for p in discover_scenes(tmp_path)] == ["a", "b/scene1", "b/scene2"]


def test_scene_without_image_is_still_found(tmp_path: Path) -> None:
    write_scene(tmp_path / "s", seed=1, size=(8, 8))
    for p in (tmp_path / "s" / "image").iterdir():
        p.unlink()
    (tmp_path / "s" / "image").rmdir()
    assert discover_scenes(tmp_path) == [tmp_path / "s"]  # so that scan reports it


def test_a_scene_folder_itself(tmp_path: Path) -> None:
    write_scene(tmp_path / "s", seed=1, size=(8, 8))
    assert discover_scenes(tmp_path / "s") == [tmp_path / "s"]


def test_nothing_found(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"/empty: no scene folders"):
        discover_scenes(tmp_path / "empty")
    with pytest.raises(BadInput, match=r"/missing: not a folder"):
        discover_scenes(tmp_path / "missing")


def test_sunrgbd_root_without_kinect2(tmp_path: Path) -> None:
    write_scene(tmp_path / "SUNRGBD" / "kv1" / "b3dodata" / "img_0001", seed=1, size=(8, 8))
    with pytest.raises(BadInput, match=r"/SUNRGBD: no kv2/kinect2data folder"):
        discover_scenes(tmp_path)


def test_real_scene_folders(shared_data: Path) -> None:
    assert [p.name for p in discover_scenes(shared_data / "sunrgbd")] == ["2014-12-18_11-31-54_260595134347", "img_0063"]


def test_symlinked_scene_folders_are_followed_once(tmp_path: Path) -> None:
    """A folder of links to scenes, a link among real scenes, a link back up (a cycle), a second link to one scene."""
    real = tmp_path / "real"
    for name in ("a", "b", "c"):
        write_scene(real / name, seed=1, size=(8, 8), label_source="none")
    links = tmp_path / "links"
    links.mkdir()
    for name in ("a", "b"):
        (links / name).symlink_to(real / name, target_is_directory=True)
    (links / "again_a").symlink_to(real / "a", target_is_directory=True)
    (links / "loop").symlink_to(links, target_is_directory=True)
    assert [p.name for p in discover_scenes(links)] == ["a", "b"]
    mixed = tmp_path / "SUNRGBD" / "kv2" / "kinect2data"
    write_scene(mixed / "x", seed=1, size=(8, 8), label_source="none")
    (mixed / "y").symlink_to(real / "c", target_is_directory=True)
    assert [p.name for p in discover_scenes(tmp_path / "SUNRGBD")] == ["x", "y"]
    checks = run_scan(ScanConfig(root=links))
    assert [c.problems for c in checks] == [(), ()]


def test_empty_and_unreadable_folders_where_a_scene_is_expected_are_listed(tmp_path: Path, monkeypatch) -> None:
    kv2 = tmp_path / "SUNRGBD" / "kv2" / "kinect2data"
    write_scene(kv2 / "good", seed=1, size=(8, 8), label_source="none")
    (kv2 / "empty_scene").mkdir()
    (kv2 / "locked").mkdir()
    (kv2 / "notes").mkdir()
    (kv2 / "notes" / "readme.txt").write_text("x")
    write_scene(kv2 / "no_image", seed=2, size=(8, 8))
    shutil.rmtree(kv2 / "no_image" / "image")
    (kv2 / "no_image" / "intrinsics.txt").unlink()
    real_scandir, real_listdir = os.scandir, os.listdir

    def deny(path):
        if isinstance(path, (str, os.PathLike)) and Path(path) == kv2 / "locked":  # what mode 000 does but to root
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", lambda p=".": deny(p) or real_scandir(p))
    monkeypatch.setattr(os, "listdir", lambda p=".": deny(p) or real_listdir(p))
    assert [p.name for p in discover_scenes(tmp_path)] == ["empty_scene", "good", "locked", "no_image", "notes"]
    problems = {Path(c.rel_path).name: c.problems for c in run_scan(ScanConfig(root=kv2))}
    assert problems == {
        "empty_scene": (f"{kv2 / 'empty_scene'}: an empty folder where a scene folder was expected",),
        "good": (),
        "locked": (f"{kv2 / 'locked'}: cannot read (Permission denied)",),
        "no_image": (f"{kv2 / 'no_image'}: holds no scene (no image/ folder or intrinsics.txt) where a scene folder was expected",),
        "notes": (f"{kv2 / 'notes'}: holds no scene (no image/ folder or intrinsics.txt) where a scene folder was expected",),
    }
    report = run_export(ExportConfig(root=tmp_path, out=tmp_path / "out", size=(8, 8), workers=1, keep_unlabeled=True))
    assert sorted(s.reason for s in report.skipped) == sorted(p for ps in problems.values() for p in ps)
    assert sum(report.counts.values()) == 1


def _as_nobody() -> list[str] | None:
    """`setpriv` prefix running a command as user nobody, where root can drop to it; else None."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import sunprep"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else None


def test_a_mode_000_scene_folder_is_a_problem_for_a_user_it_denies() -> None:
    """The real thing behind the monkeypatched test above: chmod 000 read by a user it denies."""
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("needs root with setpriv, and a python user nobody can run (to be denied by mode 000)")
    top = Path(tempfile.mkdtemp(prefix="sunprep-nobody-"))
    try:
        scenes = write_dataset(top, 3, seed=2, size=(12, 16))
        for p in (top, *top.rglob("*")):
            p.chmod(0o755 if p.is_dir() else 0o644)
        scenes[1].chmod(0)
        done = subprocess.run([*prefix, sys.executable, "-m", "sunprep", "scan", str(top), "--json"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 1, done.stderr
        problems = [p for s in json.loads(done.stdout)["scenes"] for p in s["problems"]]
        assert problems == [f"{scenes[1]}: cannot read (Permission denied)"]
    finally:
        scenes[1].chmod(0o755)
        shutil.rmtree(top)
