"""Resize invariants: labels and depth are copies of input pixels, big blocks survive, fits agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.export.resize import FITS, plan, resize_image, resize_nearest

sizes = st.tuples(st.integers(1, 90), st.integers(1, 90))


@settings(max_examples=60, deadline=None)
@given(src=sizes, out=sizes, fit=st.sampled_from(FITS), seed=st.integers(0, 2**16))
def test_nearest_output_values_all_occur_in_input(src, out, fit, seed) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 7, src).astype(np.uint16)
    got = resize_nearest(labels, plan(src, out, fit), fill=0)
    assert got.shape == out and got.dtype == np.uint16
    allowed = set(np.unique(labels).tolist()) | {0}
    assert set(np.unique(got).tolist()) <= allowed
    if fit != "pad":
        assert 0 not in set(np.unique(got).tolist())  # nothing padded: every pixel is a copy


@settings(max_examples=40, deadline=None)
@given(src=sizes, out=sizes, fit=st.sampled_from(FITS), seed=st.integers(0, 2**16))
def test_depth_never_mixes_valid_and_missing(src, out, fit, seed) -> None:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 8.0, src).astype(np.float32)
    depth[rng.random(src) < 0.4] = 0.0
    got = resize_nearest(depth, plan(src, out, fit), fill=0.0)
    assert got.dtype == np.float32
    assert set(np.unique(got).tolist()) <= set(np.unique(depth).tolist()) | {0.0}


@settings(max_examples=30, deadline=None)
@given(
    blocks=st.tuples(st.integers(2, 6), st.integers(2, 6)),
    block_px=st.integers(24, 60),
    out=st.tuples(st.integers(16, 64), st.integers(16, 64)),
    seed=st.integers(0, 2**16),
)
def test_large_blocks_survive_resize_almost_exactly(blocks, block_px, out, seed) -> None:
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 40, blocks)
    src = (blocks[0] * block_px, blocks[1] * block_px)
    labels = np.kron(grid, np.ones((block_px, block_px), np.int64))
    got = resize_nearest(labels, plan(src, out, "stretch"), fill=-1)
    # The ideal: the block under each output pixel's centre, from continuous coordinates.
    yc = (np.arange(out[0]) + 0.5) / out[0] * blocks[0]
    xc = (np.arange(out[1]) + 0.5) / out[1] * blocks[1]
    ideal = grid[np.floor(yc).astype(int)][:, np.floor(xc).astype(int)]
    wrong = np.count_nonzero(got != ideal)
    # Only pixels on a block boundary may differ, at most one row/column per boundary.
    boundary = (blocks[0] - 1) * out[1] + (blocks[1] - 1) * out[0]
    assert wrong <= boundary
    assert np.array_equal(np.unique(got), np.unique(ideal))  # no block lost, none invented


def test_kv2_into_cityscapes_geometry() -> None:
    crop = plan((530, 730), (128, 256), "crop")
    assert crop.src_box == (82, 0, 365, 730)
    pad = plan((530, 730), (128, 256), "pad")
    assert pad.dst_box == (0, 40, 128, 176)
    assert plan((1024, 2048), (128, 256), "crop") == plan((1024, 2048), (128, 256), "stretch")
    assert plan((1024, 2048), (128, 256), "pad") == plan((1024, 2048), (128, 256), "stretch")


def test_crop_takes_the_centre_and_pad_fills() -> None:
    labels = np.zeros((10, 40), np.int16)
    labels[:, 15:25] = 7  # a centre stripe
    got = resize_nearest(labels, plan((10, 40), (10, 10), "crop"), fill=-1)
    assert np.all(got == 7)
    padded = resize_nearest(labels, plan((10, 40), (20, 20), "pad"), fill=-1)
    # 10x40 scaled by 1/2 is 5x20, centred at rows 7..11 of 20.
    assert np.all(padded[:7] == -1) and np.all(padded[12:] == -1)
    assert set(np.unique(padded[7:12]).tolist()) == {0, 7}


@pytest.mark.parametrize("fit", FITS)
def test_image_is_antialiased_not_sampled(fit) -> None:
    checker = (np.indices((120, 160)).sum(0) % 2 * 255).astype(np.uint8)
    rgb = np.repeat(checker[..., None], 3, axis=2)
    geom = plan((120, 160), (30, 40), fit)
    got = resize_image(rgb, geom)
    assert got.shape == (30, 40, 3) and got.dtype == np.uint8
    dt, dl, dh, dw = geom.dst_box
    inner = got[dt + 1 : dt + dh - 1, dl + 1 : dl + dw - 1].astype(int)
    # A 1-pixel checkerboard averages to mid grey; nearest sampling would give 0 or 255.
    assert np.all(np.abs(inner - 127.5) < 8)
    if fit == "pad" and (dh, dw) != (30, 40):
        assert got[0, 0].tolist() == [0, 0, 0] or got[-1, -1].tolist() == [0, 0, 0]


def test_bad_sizes_and_fit_are_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        plan((0, 10), (5, 5), "crop")
    with pytest.raises(ValueError, match="unknown fit"):
        plan((10, 10), (5, 5), "squash")  # type: ignore[arg-type]
