"""Scene discovery from the SUNRGBD root, its parent, kv2/kinect2data, or a plain folder of scenes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.scenes import write_dataset, write_scene
from sunprep.errors import BadInput
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
