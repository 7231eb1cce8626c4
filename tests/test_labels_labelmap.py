"""LabelMap: the lookup export uses, its layering and its fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sunprep.errors import MappingError
from sunprep.labels.labelmap import load_label_map


def test_lut_maps_names_and_keeps_void(tmp_path: Path) -> None:
    label_map = load_label_map()
    lut = label_map.lut(["Chair", "laptop", "wall_2", "zzqx"])
    assert lut.dtype == np.int16
    assert lut.tolist() == [-1, 4, 37, 0, 38]
    labels = np.array([[0, 1], [2, 4]], np.uint16)
    assert lut[labels].tolist() == [[-1, 4], [37, 38]]


def test_class_ids_resolve_unseen_names_on_the_fly() -> None:
    label_map = load_label_map()
    assert label_map.class_ids(["coffee table", "tables", "books", "television"]).tolist() == [6, 6, 22, 24]
    assert label_map.class_ids([]).tolist() == []


def test_user_mapping_wins_and_changes_the_fingerprint(tmp_path: Path) -> None:
    user = tmp_path / "mine.csv"
    user.write_text("raw_label,class\nlaptop,tv\nstapler,36\n", encoding="utf-8")
    base, mine = load_label_map(), load_label_map(mappings=[user])
    assert mine.class_ids(["laptop", "stapler", "chair"]).tolist() == [24, 36, 4]
    assert base.fingerprint != mine.fingerprint
    assert load_label_map(mappings=[user]).fingerprint == mine.fingerprint


def test_later_mapping_wins_over_earlier(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("clean_label,class\nstapler,box\n", encoding="utf-8")
    second.write_text("clean_label,class\nstapler,bag\n", encoding="utf-8")
    assert load_label_map(mappings=[first, second]).class_ids(["stapler"]).tolist() == [36]
    assert load_label_map(mappings=[second, first]).class_ids(["stapler"]).tolist() == [28]
    assert len(load_label_map(mappings=[first, second]).resolver.conflicts) == 1


def test_unknown_class_names_the_closest(tmp_path: Path) -> None:
    user = tmp_path / "bad.csv"
    user.write_text("raw_label,class\nlaptop,computr\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"bad.csv:2: unknown class 'computr' \(closest: computer"):
        load_label_map(mappings=[user])


def test_seglistall_table_resolves_its_own_typos(shared_data: Path) -> None:
    label_map = load_label_map(mappings=[shared_data / "seglistall.csv"])
    assert label_map.class_ids(["charir", "book_case", "desktop_pc", "seiling"]).tolist() == [4, 9, 37, 21]
