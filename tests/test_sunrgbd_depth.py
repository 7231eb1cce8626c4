"""Depth: the toolbox formula on hand-computed values, and the PNG checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.scenes import encode_depth_png
from sunprep.errors import BadInput
from sunprep.sunrgbd.depth import decode_depth, encode_depth, read_depth_png


def test_decode_depth_hand_computed() -> None:
    # stored = mm rotated left by 3 bits within 16 bits; decode rotates right and divides by 1000.
    stored = np.array(
        [
            0,  # missing stays 0
            8000,  # 8000 >> 3 = 1000 mm -> 1.0 m
            (1234 << 3) & 0xFFFF,  # 1.234 m
            0x0001,  # bit 0 rotates to bit 13: 8192 mm -> capped at 8 m
            (8000 << 3) & 0xFFFF,  # 8000 mm = 8.0 m exactly, at the cap
            0xFFFF,  # 65535 mm -> 8 m
            (7999 << 3) & 0xFFFF,  # just under the cap
        ],
        dtype=np.uint16,
    )
    want = np.array([0.0, 1.0, 1.234, 8.0, 8.0, 8.0, 7.999], dtype=np.float32)
    got = decode_depth(stored)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_decode_keeps_high_bits_of_large_values() -> None:
    # 5000 mm = 0x1388: its top 3 bits are 0, 5000 << 3 = 40000 fits 16 bits; 9000 mm << 3 overflows
    # and the overflow bits wrap to the bottom, which decode must bring back.
    mm = np.array([5000, 9000], np.uint32)
    stored = (((mm << 3) | (mm >> 13)) & 0xFFFF).astype(np.uint16)
    assert stored[1] == (9000 * 8) % 65536 + (9000 >> 13)
    np.testing.assert_array_equal(decode_depth(stored), np.array([5.0, 8.0], np.float32))


def test_encode_inverts_decode_below_cap() -> None:
    metres = np.array([[0.0, 0.5, 1.001, 7.999]])
    np.testing.assert_array_equal(decode_depth(encode_depth(metres)), metres.astype(np.float32))


def test_read_depth_png(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    encode_depth_png(path, np.array([[0, 1500], [9000, 250]], np.uint16))
    np.testing.assert_array_equal(read_depth_png(path, (2, 2)), np.array([[0, 1.5], [8, 0.25]], np.float32))


def test_eight_bit_depth_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    Image.fromarray(np.full((4, 5), 200, np.uint8)).save(path)
    with pytest.raises(BadInput, match=r"d\.png: depth PNG is mode L, expected 16-bit"):
        read_depth_png(path, (4, 5))


def test_wrong_size_depth_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    encode_depth_png(path, np.ones((4, 5), np.uint16))
    with pytest.raises(BadInput, match=r"d\.png: depth is 5x4, image is 7x3"):
        read_depth_png(path, (3, 7))


def test_not_a_png(tmp_path: Path) -> None:
    path = tmp_path / "d.png"
    path.write_bytes(b"nope")
    with pytest.raises(BadInput, match=r"d\.png: not a readable PNG"):
        read_depth_png(path, None)


def test_real_kv2_depth(shared_data: Path) -> None:
    scene = shared_data / "sunrgbd" / "2014-12-18_11-31-54_260595134347"
    raw = read_depth_png(scene / "depth" / "0000144.png", (530, 730))
    bfx = read_depth_png(scene / "depth_bfx" / "0000144.png", (530, 730))
    # measured on these files: raw has holes, the refined one none; both top out at 3.783 m
    assert (raw == 0).any() and not (bfx == 0).any()
    assert raw.max() == pytest.approx(3.783) and bfx.max() == pytest.approx(3.783)
    assert bfx.min() == pytest.approx(0.64)
