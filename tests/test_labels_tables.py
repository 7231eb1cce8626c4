"""Reading mapping files: the seglistall format, user CSVs, and one clear line per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunprep.errors import MappingError
from sunprep.labels.classes import load_classes
from sunprep.labels.tables import read_mapping, read_project_tables

CLASSES = load_classes()
SEG_HEADER = "clean_label,original_labels,seglistall index,seg37list index,seg37list label,images,number of images"


def write(tmp_path: Path, text: str | bytes, name: str = "m.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_real_seglistall_is_read_as_is(shared_data: Path) -> None:
    raw = (shared_data / "seglistall.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the format we must cope with
    table = read_mapping(shared_data / "seglistall.csv", CLASSES)
    assert len(table.clean_to_class) == 37
    assert table.clean_to_class["nightstand"].target == CLASSES.id_of("night_stand")
    assert table.raw_to_clean["charir"].target == "chair"
    assert table.raw_to_clean["book case"].target == "bookcase"
    assert len(table.raw_to_clean) == 6768  # 7,009 raw names, fewer once canonical forms merge
    assert table.raw_to_clean["n a"].target == "unknown"  # `n/a` is a name here, not a missing value
    assert table.warnings == []


def test_seglistall_rows_without_a_raw_name_are_skipped_with_a_warning(tmp_path: Path) -> None:
    table = read_mapping(write(tmp_path, f"{SEG_HEADER}\r\nchair,chair,1,5,chair,[1],3\r\nunknown,,2,0,,[2],1\r\n"), CLASSES)
    assert list(table.raw_to_clean) == ["chair"]
    assert table.warnings == [f"{tmp_path / 'm.csv'}:3: empty original_labels, row skipped"]


def test_simple_formats_take_class_names_or_ids(tmp_path: Path) -> None:
    raw = read_mapping(write(tmp_path, "raw_label,class\nMy_Laptop,computer\nbin,28\n"), CLASSES)
    assert {k: e.target for k, e in raw.raw_to_class.items()} == {"my laptop": 37, "bin": 28}
    clean = read_mapping(write(tmp_path, "clean_label,class,comment\nnight stand,Night Stand,x\n"), CLASSES)
    assert clean.clean_to_class["night stand"].target == 31
    assert clean.clean_to_class["night stand"].source.endswith("m.csv:2")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,klass\nchair,chair\n", r"m.csv:1: missing columns: .* found name, klass"),
        ("raw_label,class\nlaptop,computr\n", r"m.csv:2: unknown class 'computr' \(closest: computer"),
        ("raw_label,class\nlaptop,99\n", r"m.csv:2: class id 99 out of range 0..38"),
        ("raw_label,class\n   ,chair\n", r"m.csv:2: empty raw_label"),
        ("raw_label,class\nlaptop,\n", r"m.csv:2: empty class for 'laptop'"),
        ("raw_label,class\nlaptop,computer\nLaptop,tv\n", r"m.csv:3: duplicate raw_label 'laptop' disagrees with .*m.csv:2"),
        ("", r"m.csv: empty file"),
        (b"raw_label,class\ncaf\xe9,chair\n", r"m.csv: not UTF-8 \(bad byte at offset 19\)"),
        (f"{SEG_HEADER}\nchair,chiar,1,5,table,[1],3\n", r"m.csv:2: seg37list index 5 is 'chair', not 'table'"),
        (f"{SEG_HEADER}\nchair,chiar,1,5,chair,[1],3\nsofa,chiar,2,0,,[2],1\n", r"m.csv:3: duplicate original_labels 'chiar'"),
    ],
)
def test_bad_input_is_one_line_with_file_and_row(tmp_path: Path, content: str | bytes, message: str) -> None:
    with pytest.raises(MappingError, match=message) as err:
        read_mapping(write(tmp_path, content), CLASSES)
    assert "\n" not in str(err.value)


def test_project_tables_are_consistent_and_cover_the_issue_examples() -> None:
    rules = {k: CLASSES.names[int(e.target)] for k, e in read_project_tables(CLASSES).clean_to_class.items()}
    expected = {
        "book": "books", "shelf": "shelves", "television": "tv", "nightstand": "night_stand", "cupboard": "cabinet",
        "coffee table": "table", "office chair": "chair", "table lamp": "lamp", "laptop": "computer",
        "desktop pc": "computer", "cpu": "computer", "imac": "computer", "computer monitor": "computer",
        "keyboard": "other", "mouse": "other", "printer": "other", "monitor": "computer", "tv monitor": "tv",
        "chair cushion": "pillow", "lamp shade": "lamp", "book stand": "other",
    }
    assert {k: rules[k] for k in expected} == expected
