"""The direct PNG encoder against PIL's decoder: every supported array kind round-trips exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sunprep.export.sample import png_bytes

KINDS = {"rgb": (np.uint8, 3, "RGB"), "rgba": (np.uint8, 4, "RGBA"), "label": (np.uint8, 0, "L"), "depth": (np.uint16, 0, "I;16")}


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), h=st.integers(1, 40), w=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_png_round_trips_through_pil(kind, h, w, seed) -> None:
    dtype, channels, mode = KINDS[kind]
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels else (h, w)
    arr = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True, dtype=dtype)
    with Image.open(io.BytesIO(png_bytes(arr))) as im:
        assert im.mode == mode and im.size == (w, h)
        assert np.array_equal(np.asarray(im), arr)


def test_unsupported_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="no PNG encoding"):
        png_bytes(np.zeros((4, 4), np.float32))
