"""`annotation*/index.json`: the SUN RGB-D web annotator's polygons, rasterised into a label map.

The file holds `objects[i].name` and `frames[f].polygon[j]` with pixel lists `x`, `y` and an
`object` index (0-based) into `objects`. Real files are untidy: null objects and polygons, empty
or mismatched point lists, points far outside the image (img_0063 spans x -41..597 on a 561-wide
image) and, in at least one kinect2 scene, invalid JSON (`{"name":""propulsion"tool"}`). What can
be kept is kept and each repair becomes one warning line; only a file with nothing usable is
BadInput.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sunprep.errors import BadInput
from sunprep.inputs import regular_file
from sunprep.sunrgbd.records import LabelRecord

# A `"name"` string whose body holds raw double quotes: the body runs to the last quote that is
# followed by the end of the JSON value (`,` `}` `]`). Only names are repaired: they are the one
# free-text field the annotator wrote without escaping.
_BROKEN_NAME = re.compile(r'("name"\s*:\s*")(.*?)("\s*[,}\]])', re.DOTALL)


def _escape_name(match: re.Match[str]) -> str:
    body = re.sub(r'(?<!\\)"', r'\\"', match.group(2))
    return match.group(1) + body + match.group(3)


def _loads(path: Path, text: str) -> object:
    """`json.loads`, with the limits of Python's parser as one line each (JSONDecodeError passes)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply to read") from None
    except ValueError as err:  # e.g. an integer of more than 4,300 digits (int_max_str_digits)
        raise BadInput(f"{path}: unreadable JSON value ({str(err).splitlines()[0]})") from None


def parse_index_json(path: Path) -> tuple[dict, tuple[str, ...]]:
    """Load the JSON object, repairing unescaped quotes inside names; returns (data, warnings)."""
    try:
        raw = regular_file(path).read_bytes()
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    warnings: list[str] = []
    try:
        text = raw.decode("utf-8-sig")  # -sig: tolerate a BOM
    except UnicodeDecodeError as err:
        text = raw.decode("utf-8-sig", errors="replace")
        warnings.append(f"{path}: not valid UTF-8 (first bad byte at offset {err.start}); undecodable bytes became U+FFFD")
    try:
        data = _loads(path, text)
    except json.JSONDecodeError as err:
        repaired = _BROKEN_NAME.sub(_escape_name, text)
        try:
            data = _loads(path, repaired)
        except json.JSONDecodeError:
            raise BadInput(f"{path}: malformed JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
        warnings.append(f"{path}: repaired malformed JSON (unescaped quotes in an object name)")
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object at top level, found {type(data).__name__}")
    return data, tuple(warnings)


# No image is a million pixels wide; a vertex beyond this is damage, not an off-image point, and
# would overflow the rasteriser (or, as a 300-digit integer, a float conversion).
MAX_COORD = 1e6


def _points(poly: dict) -> list[tuple[float, float]] | None:
    """The polygon's vertices, or None when the lists are absent, mismatched, short or not numbers."""
    xs, ys = poly.get("x"), poly.get("y")
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys) or len(xs) < 3:
        return None
    pts = []
    for x, y in zip(xs, ys):
        if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            return None
        if not (abs(x) <= MAX_COORD and abs(y) <= MAX_COORD):  # also NaN; ints too big for a float
            return None
        pts.append((float(x), float(y)))
    return pts


def read_index_json(path: Path, shape: tuple[int, int], label_source: str) -> LabelRecord:
    """Rasterise every usable polygon of every frame onto an (H, W) canvas.

    Later polygons paint over earlier ones, as the annotator drew them (its display order), so
    an object outlined on top of the wall wins over the wall. Vertices outside the image are
    clipped by the drawing itself. `names` lists, in `objects` order, the objects that at least
    one usable polygon refers to, so label k is the k-th such object; nameless objects that no
    polygon uses are dropped silently.
    """
    data, warnings = parse_index_json(path)
    objects = data.get("objects")
    frames = data.get("frames")
    if not isinstance(objects, list) or not isinstance(frames, list):
        raise BadInput(f"{path}: no 'objects' and 'frames' lists")
    polygons: list[tuple[int, list[tuple[float, float]]]] = []
    skipped = 0
    for frame in frames:
        if not isinstance(frame, dict) or not isinstance(frame.get("polygon"), list):
            continue
        for poly in frame["polygon"]:
            if not isinstance(poly, dict):
                skipped += 1
                continue
            obj = poly.get("object")
            pts = _points(poly)
            if pts is None:
                skipped += 1
                continue
            if isinstance(obj, bool) or not isinstance(obj, int) or not 0 <= obj < len(objects):
                skipped += 1
                continue
            entry = objects[obj]
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name.strip():
                skipped += 1
                continue
            polygons.append((obj, pts))
    if skipped:
        warnings += (f"{path}: skipped {skipped} null, empty or invalid polygon(s)",)
    used = sorted({obj for obj, _ in polygons})
    label_of = {obj: k for k, obj in enumerate(used, start=1)}
    if len(used) > 0xFFFF:
        raise BadInput(f"{path}: {len(used)} objects do not fit a uint16 label map")
    h, w = shape
    canvas = Image.new("I", (w, h), 0)  # 32-bit canvas: labels may exceed 255
    draw = ImageDraw.Draw(canvas)
    for obj, pts in polygons:
        draw.polygon(pts, fill=label_of[obj], outline=label_of[obj])
    labels = np.asarray(canvas, dtype=np.int32).astype(np.uint16)
    names = tuple(objects[obj]["name"] for obj in used)
    return LabelRecord(labels, names, label_source, warnings)
