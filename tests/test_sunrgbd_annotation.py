"""index.json: polygons rasterised as drawn, real quirks survived, the real img_0063 file parsed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.scenes import BROKEN_NAME, Box, paint_boxes, random_boxes, write_index_json
from sunprep.errors import BadInput
from sunprep.sunrgbd.annotation import parse_index_json, read_index_json

SOURCE = "annotation2Dfinal/index.json"


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    h=st.integers(2, 40),
    w=st.integers(2, 40),
    seed=st.integers(0, 2**16),
    broken=st.booleans(),
)
def test_index_json_round_trip(n: int, h: int, w: int, seed: int, broken: bool) -> None:
    rng = np.random.default_rng(seed)
    names = [f"obj{i}" for i in range(n - 1)] + [BROKEN_NAME if broken else "chair2"]
    boxes = random_boxes(rng, n, (h, w))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "annotation2Dfinal" / "index.json"
        write_index_json(path, names, boxes, broken_name=broken)
        if broken:
            with pytest.raises(json.JSONDecodeError):
                json.loads(path.read_text())
        rec = read_index_json(path, (h, w), SOURCE)
    np.testing.assert_array_equal(rec.labels, paint_boxes(boxes, (h, w)))
    assert rec.names == tuple(names)
    assert any("repaired malformed JSON" in line for line in rec.warnings) == broken


def _doc(objects: list[object], polygons: list[object]) -> str:
    return json.dumps({"frames": [{"polygon": polygons}], "objects": objects})


def _poly(obj: object, x0: int, y0: int, x1: int, y1: int) -> dict[str, object]:
    return {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1], "object": obj}


def test_later_polygons_paint_over_earlier(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    path.write_text(_doc([{"name": "wall"}, {"name": "picture"}], [_poly(0, 0, 0, 5, 3), _poly(1, 2, 1, 3, 2)]))
    rec = read_index_json(path, (4, 6), SOURCE)
    want = np.ones((4, 6), np.uint16)
    want[1:3, 2:4] = 2
    np.testing.assert_array_equal(rec.labels, want)
    # and the other way round: the wall drawn last hides the picture
    path.write_text(_doc([{"name": "wall"}, {"name": "picture"}], [_poly(1, 2, 1, 3, 2), _poly(0, 0, 0, 5, 3)]))
    np.testing.assert_array_equal(read_index_json(path, (4, 6), SOURCE).labels, np.ones((4, 6), np.uint16))


def test_nulls_and_junk_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    objects = [{"name": "wall"}, None, {"name": ""}, {"name": 7}, {"name": "lamp"}, {"name": "unused"}]
    polygons = [
        None,
        {"x": [], "y": [], "object": 0},
        {"x": [0, 1], "y": [0, 1], "object": 0},  # two points: no area
        {"x": [0, 2, 2], "y": [0, 0, None], "object": 0},  # null coordinate
        {"x": [0, 2, 2, 0], "y": [0, 0, 2], "object": 0},  # lengths differ
        _poly(1, 0, 0, 1, 1),  # null object
        _poly(2, 0, 0, 1, 1),  # empty name
        _poly(3, 0, 0, 1, 1),  # non-string name
        _poly(9, 0, 0, 1, 1),  # index beyond objects
        _poly(None, 0, 0, 1, 1),
        _poly(4, -10, -10, 0, 100),  # mostly outside: clipped to column 0
    ]
    path.write_text(json.dumps({"frames": [None, {"polygon": polygons}], "objects": objects}))
    rec = read_index_json(path, (3, 4), SOURCE)
    assert rec.names == ("lamp",)
    want = np.zeros((3, 4), np.uint16)
    want[:, 0] = 1
    np.testing.assert_array_equal(rec.labels, want)
    assert rec.warnings == (f"{path}: skipped 10 null, empty or invalid polygon(s)",)


def test_real_kinect2_defect_recovered(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    # as in SUNRGBD/kv2/kinect2data/002922_..._rgbf000089-resize
    path.write_text('{"frames":[{"polygon":[{"x":[0,3,3,0],"y":[0,0,1,1],"object":1}]}],'
                    '"objects":[{"name":"wall"},{"name":""propulsion"tool"}]}')
    data, warnings = parse_index_json(path)
    assert data["objects"][1]["name"] == '"propulsion"tool'
    assert warnings == (f"{path}: repaired malformed JSON (unescaped quotes in an object name)",)
    rec = read_index_json(path, (2, 4), SOURCE)
    assert rec.names == ('"propulsion"tool',) and int(rec.labels.sum()) == 8


@pytest.mark.parametrize("text", ['{"frames": [{"polygon": [', "", "not json", '{"objects": [{"name": "a"},,]}'])
def test_malformed_beyond_repair(tmp_path: Path, text: str) -> None:
    path = tmp_path / "index.json"
    path.write_text(text)
    with pytest.raises(BadInput, match=r"index\.json: malformed JSON \(.* at line \d+ column \d+\)$"):
        read_index_json(path, (2, 2), SOURCE)


@pytest.mark.parametrize(("text", "message"), [("[]", "expected a JSON object at top level, found list"), ("{}", "no 'objects' and 'frames' lists")])
def test_wrong_shape_json(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "index.json"
    path.write_text(text)
    with pytest.raises(BadInput, match=message):
        read_index_json(path, (2, 2), SOURCE)


def test_fixture_box_semantics_match_inclusive_fill() -> None:
    # A box is inclusive on both ends: the reader's polygon fill must agree (this is what makes
    # the round trip above an independent check).
    labels = paint_boxes([Box(0, 1, 1, 2, 3)], (5, 5))
    assert labels.sum() == 2 * 3 and labels[1:4, 1:3].all()


def test_real_img_0063(shared_data: Path) -> None:
    path = shared_data / "sunrgbd" / "img_0063" / "annotation2Dfinal" / "index.json"
    data, warnings = parse_index_json(path)
    xs = [x for p in data["frames"][0]["polygon"] for x in p["x"]]
    assert (min(xs), max(xs)) == (-41, 597)  # on a 561-wide image: clipping is needed
    rec = read_index_json(path, (427, 561), SOURCE)
    assert warnings == () and rec.warnings == ()
    assert rec.names == ("shelf", "wall", "floor", "chair", "books", "box")
    assert rec.labels.shape == (427, 561)
    # every object paints something; the polygons cover most of the image
    assert set(np.unique(rec.labels)) - {0} == {1, 2, 3, 4, 5, 6}
    assert (rec.labels > 0).mean() > 0.8
    # `object` is 0-based: polygon 4 (object 2 = "floor") spans rows 369..428 at the bottom
    assert rec.names[rec.labels[420, 300] - 1] == "floor"
