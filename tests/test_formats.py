"""Each export format's writer -> the same format's reader: random samples come back equal.

The writer and the reader of a format live in one module (sunprep.export.registry lists them);
this pins that what `export` writes is exactly what `train` reads, for every format, with and
without depth.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.export.official import CsName, parse_cs_path
from sunprep.export.reading import LabelSpace, read_sample
from sunprep.export.registry import FORMATS, SPECS, make_writer
from sunprep.export.sample import Encoded, Meta, Sample, checksum
from sunprep.labels.classes import ClassTable

N_CLASSES = 7
SPACE = LabelSpace(ClassTable(tuple(f"c{i}" for i in range(N_CLASSES)), ((0, 0, 0),) * N_CLASSES), "test")


@st.composite
def samples(draw: st.DrawFn, with_depth: bool) -> Sample:
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    label = rng.integers(-1, N_CLASSES, (h, w)).astype(np.int16)
    # Millimetre steps: the PNG formats store uint16 mm, so that much is what a round trip keeps.
    depth = (rng.integers(0, 65536, (h, w)) / 1000).astype(np.float32) if with_depth else None
    return Sample(image, label, depth)


def write_all(fmt: str, out: Path, by_split: dict[str, list[Sample]]) -> None:
    """Drive the writer as the export's placing loop does: encode, stage, put in index order, close."""
    writer = make_writer(fmt, out, SPACE.classes, "test", shard_bytes=2000)  # type: ignore[arg-type]
    for split, items in by_split.items():
        for i, sample in enumerate(items):
            files = writer.encode(sample)
            meta = Meta(f"scene{i}", "kv2", f"kv2_{i:06d}_000000", "office", "seg.mat", "depth_bfx", "0" * 64)
            h, w = sample.label.shape
            writer.put(split, i, writer.stage(split, Encoded(meta, files, checksum(files), h, w)))
    writer.close()


@settings(max_examples=15, deadline=None)
@given(
    fmt=st.sampled_from(FORMATS),
    with_depth=st.booleans(),
    data=st.data(),
)
def test_writer_then_reader_round_trip(fmt: str, with_depth: bool, data: st.DataObject) -> None:
    by_split = {split: data.draw(st.lists(samples(with_depth), min_size=1, max_size=5)) for split in ("train", "val")}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_all(fmt, out, by_split)
        spec = SPECS[fmt]  # type: ignore[index]
        files = spec.detect(out)
        assert {spec.split_of(f.relative_to(out)) for f in files} == set(by_split)
        for split, items in by_split.items():
            listing = spec.listing(out, split)
            assert list(listing.index) == list(range(len(items)))
            for k, want in enumerate(items):
                got = read_sample(listing, k, SPACE)
                image = got.image if got.image.dtype == np.uint8 else np.rint(got.image * 255).astype(np.uint8)
                np.testing.assert_array_equal(image, want.image)
                np.testing.assert_array_equal(got.label, want.label)
                if want.depth is None:
                    assert got.depth is None
                else:
                    assert got.depth is not None
                    np.testing.assert_allclose(got.depth, want.depth, atol=5e-4)


@given(
    split=st.sampled_from(("train", "val")),
    city=st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
    stem=st.from_regex(r"[a-z0-9]{1,8}_[0-9]{6}_[0-9]{6}", fullmatch=True),
    kind=st.sampled_from(("image", "label", "labelIds", "instanceIds", "color", "depth", "disparity", "camera")),
)
def test_cityscapes_names_parse_back(split: str, city: str, stem: str, kind: str) -> None:
    name = CsName(split, city, stem)
    assert parse_cs_path(name.path(kind)) == (name, kind)
