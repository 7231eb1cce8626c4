"""The official Cityscapes label table and reading a generated official-layout release."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures.cityscapes import BASELINE_M, FX_PX, write_release
from sunprep.errors import BadInput, MappingError
from sunprep.export.cityscapes_source import (
    discover_frames,
    disparity_to_depth,
    load_label_table,
    parse_label_table,
    read_frame,
)
from sunprep.export.registry import SPECS
from sunprep.export.run import ExportConfig, run_export
from sunprep.export.sample import MAX_DEPTH_PNG_M


def test_official_table_gives_19_train_ids() -> None:
    table = load_label_table()
    assert len(table.classes) == 19
    assert table.classes.names[0] == "road" and table.classes.names[18] == "bicycle"
    assert table.classes.colours[13] == (0, 0, 142)  # car
    expected = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip
    for label_id in range(256):
        assert table.lut[label_id] == expected.get(label_id, -1)


def test_table_rejects_repeated_ids_and_gaps() -> None:
    head = "name,id,train_id,category,category_id,has_instances,ignore_in_eval,r,g,b\n"
    with pytest.raises(MappingError, match="x.csv:3: label id 7"):
        parse_label_table(head + "road,7,0,flat,1,False,False,1,2,3\nagain,7,1,flat,1,False,False,1,2,3\n", "x.csv")
    with pytest.raises(MappingError, match="not 0..n-1"):
        parse_label_table(head + "road,7,1,flat,1,False,False,1,2,3\n", "x.csv")


def test_label_ids_to_train_ids_on_generated_release(tmp_path: Path) -> None:
    truths = write_release(tmp_path, seed=3)
    frames = discover_frames(tmp_path)
    assert [(f.split, f.city, f.stem) for f in frames] == [(t.split, t.city, t.stem) for t in truths]
    table = load_label_table()
    for frame, truth in zip(frames, truths):
        data = read_frame(frame)
        assert np.array_equal(data.rgb, truth.rgb)
        assert np.array_equal(data.label_ids, truth.label_ids)  # labelIds, not color/instanceIds
        train_ids = table.lut[data.label_ids]
        assert np.all(train_ids[truth.label_ids == 26] == 13)  # car
        assert np.all(train_ids[truth.label_ids == 0] == -1)  # unlabeled -> void
        assert np.all(train_ids[truth.label_ids == 9] == -1)  # parking -> ignore -> void
        valid = truth.disparity_raw > 1
        expected = BASELINE_M * FX_PX / ((truth.disparity_raw[valid].astype(np.float64) - 1) / 256)
        near = expected <= MAX_DEPTH_PNG_M
        assert np.allclose(data.depth[valid][near], expected[near], rtol=1e-5)
        assert np.all(data.depth[valid][~near] == 0) and np.all(data.depth[~valid] == 0)  # beyond 65.535 m: missing
        far = int((~near).sum())
        assert data.warnings == ((f"{frame.path('disparity')}: {far} px beyond 65.535 m treated as missing (0)",) if far else ())


def test_disparity_rule_by_hand() -> None:
    raw = np.array([[0, 1, 257, 513, 2]], np.uint16)
    depth = disparity_to_depth(raw, 0.2, 200.0)
    assert depth.tolist() == [[0.0, 0.0, 40.0, 20.0, 0.0]]  # 1/256 px: 10,240 m, beyond 65.535 m, missing


def test_missing_or_inconsistent_files_are_named(tmp_path: Path) -> None:
    write_release(tmp_path, seed=1, per_city=1)
    frames = discover_frames(tmp_path)
    label = frames[0].path("labelIds")
    label.unlink()
    with pytest.raises(BadInput, match=f"{label}: missing"):
        read_frame(frames[0])
    camera = frames[1].path("camera")
    camera.unlink()
    assert "nominal" in read_frame(frames[1]).warnings[0]
    camera.write_text(json.dumps({"extrinsic": {}}))
    with pytest.raises(BadInput, match="not a Cityscapes camera file"):
        read_frame(frames[1])
    with pytest.raises(BadInput, match="not a Cityscapes release"):
        discover_frames(tmp_path / "nothing")


def test_every_format_holds_the_same_cityscapes_depth(tmp_path: Path) -> None:
    """The .npy export kept kilometres that the 16-bit PNGs saturated to 65535: now one rule."""
    write_release(tmp_path / "cs", seed=2, size=(32, 64))
    depths = {}
    for fmt in ("cityscapes", "cityscapes-official", "parquet"):
        report = run_export(ExportConfig(root=tmp_path / "cs", out=tmp_path / fmt, dataset="cityscapes", format=fmt,  # type: ignore[arg-type]
                                         size=(16, 32), workers=1))
        assert len(report.warnings) == 6 and all("beyond 65.535 m treated as missing" in w for w in report.warnings)
        listing = SPECS[fmt].listing(tmp_path / fmt, "train")  # type: ignore[index]
        depths[fmt] = np.stack([listing.read(k, True).depth for k in range(len(listing.ids))])
    assert 0 < depths["cityscapes"].max() <= MAX_DEPTH_PNG_M
    for fmt in ("cityscapes-official", "parquet"):
        np.testing.assert_allclose(depths[fmt], depths["cityscapes"], atol=5e-4)
