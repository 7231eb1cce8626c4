"""Parquet shards as Hugging Face `datasets` writes them: Image features that `load_dataset` decodes
to PIL with no user code, a class table in the schema metadata, and still plain for pandas,
pyarrow and sunprep's own reader."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fixtures.scenes import write_dataset
from sunprep.errors import TrainError
from sunprep.export.run import ExportConfig, run_export
from sunprep.export.shards import HF_KEY, SUNPREP_KEY, shard_schema
from sunprep.labels.classes import load_classes
from sunprep.train.data import open_dataset
from sunprep.train.loop import TrainConfig, train
from tests.test_formats import SPACE, samples, write_all

datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is not installed (the test extra has it)")

SIZE = (24, 40)
ROLES = ("image", "label", "depth")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same fixture scenes exported as parquet (several shards per split) and as `.npy`."""
    root = tmp_path_factory.mktemp("scenes")
    write_dataset(root, 10, seed=7, size=(53, 73))
    out = tmp_path_factory.mktemp("out")
    for fmt in ("parquet", "cityscapes"):
        run_export(ExportConfig(root=root, out=out / fmt, format=fmt, size=SIZE, workers=1, shard_bytes=6_000))  # type: ignore[arg-type]
    return {"parquet": out / "parquet", "cityscapes": out / "cityscapes"}


def load(files: list[Path], cache: Path):  # a datasets.Dataset
    return datasets.load_dataset("parquet", data_files={"train": [str(f) for f in files]}, cache_dir=str(cache))["train"]


def test_schema_is_what_datasets_itself_writes() -> None:
    schema = shard_schema(SPACE.classes, "test")
    value = datasets.Value
    features = datasets.Features({
        "index": value("int64"), "split": value("string"), "scene": value("string"), "scene_type": value("string"),
        "height": value("int32"), "width": value("int32"), **{role: datasets.Image() for role in ROLES},
    })  # fmt: skip
    ours, theirs = schema, features.arrow_schema
    assert ours.metadata[HF_KEY] == theirs.metadata[HF_KEY]  # byte for byte the JSON datasets writes
    assert ours.remove_metadata().equals(theirs.remove_metadata())
    assert datasets.Features.from_arrow_schema(ours) == features


def test_load_dataset_decodes_to_the_exported_arrays(exports: dict[str, Path], tmp_path: Path) -> None:
    """Each PIL image `load_dataset` gives equals the same sample of the `.npy` export."""
    for split in ("train", "val"):
        shards = sorted((exports["parquet"] / split).glob("part-*.parquet"))
        if split == "train":
            assert len(shards) > 1  # the bound still splits shards
        ds = load(shards, tmp_path / "hf")
        assert all(ds.features[role] == datasets.Image() for role in ROLES)
        assert ds.num_rows == len(list((exports["cityscapes"] / split / "image").glob("*.npy"))) > 0
        for row in ds:
            assert all(isinstance(row[role], Image.Image) for role in ROLES)
            npy = exports["cityscapes"] / split
            i = row["index"]
            image, label, depth = (np.asarray(row[role]) for role in ROLES)
            label = label.astype(np.int16)
            assert row["image"].mode == "RGB" and row["label"].mode == "L" and depth.dtype == np.uint16
            np.testing.assert_array_equal(image, np.rint(np.load(npy / "image" / f"{i}.npy") * 255).astype(np.uint8))
            np.testing.assert_array_equal(np.where(label == 255, -1, label), np.load(npy / "label" / f"{i}.npy"))
            np.testing.assert_allclose(depth / 1000, np.load(npy / "depth" / f"{i}.npy")[..., 0], atol=5e-4)


def test_schema_metadata_holds_the_class_table(exports: dict[str, Path]) -> None:
    classes = load_classes(exports["parquet"] / "classes.csv")
    for shard in sorted(exports["parquet"].glob("*/part-*.parquet")):
        about = json.loads(pq.read_schema(shard).metadata[SUNPREP_KEY])
        assert [c["id"] for c in about["classes"]] == list(range(len(classes)))
        assert tuple(c["name"] for c in about["classes"]) == classes.names
        assert tuple(tuple(c["colour"]) for c in about["classes"]) == classes.colours
        assert (about["label_space"], about["void"], about["depth_unit"], about["depth_scale"]) == ("sunprep39", 255, "mm", 1000.0)


def test_pandas_and_pyarrow_read_the_shards(exports: dict[str, Path]) -> None:
    shard = exports["parquet"] / "train" / "part-00000.parquet"
    frame = pd.read_parquet(shard)
    table = pq.read_table(shard)
    assert len(frame) == table.num_rows > 0 and list(frame.columns) == table.schema.names
    assert table.schema.field("image").type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cell = frame["label"].iloc[0]
    assert set(cell) == {"bytes", "path"} and cell["path"] is None
    assert np.asarray(Image.open(io.BytesIO(cell["bytes"]))).shape == SIZE


@settings(max_examples=6, deadline=None)
@given(with_depth=st.booleans(), data=st.data())
def test_writer_then_load_dataset_round_trip(with_depth: bool, data: st.DataObject) -> None:
    """Random samples through the shard writer come back from `load_dataset` as the same arrays."""
    items = data.draw(st.lists(samples(with_depth), min_size=1, max_size=6))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_all("parquet", out, {"train": items})
        ds = load(sorted((out / "train").glob("part-*.parquet")), out / "hf")
        assert ds.num_rows == len(items)
        for row, want in zip(ds, items, strict=True):
            np.testing.assert_array_equal(np.asarray(row["image"]), want.image)
            label = np.asarray(row["label"]).astype(np.int16)
            np.testing.assert_array_equal(np.where(label == 255, -1, label), want.label)
            if want.depth is None:
                assert row["depth"] is None
            else:
                np.testing.assert_allclose(np.asarray(row["depth"]) / 1000, want.depth, atol=5e-4)


def test_sunprep_reads_the_parquet_export_as_the_npy_one_and_trains_on_it(exports: dict[str, Path], tmp_path: Path) -> None:
    a, b = (open_dataset(exports[fmt]).load("train", depth=True) for fmt in ("parquet", "cityscapes"))
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert a.depth is not None and b.depth is not None and np.allclose(a.depth, b.depth, atol=5e-4)
    ckpt = train(TrainConfig(data=exports["parquet"], out=tmp_path / "run", epochs=1, width=4, batch_size=2, device="cpu"))
    assert ckpt.is_file() and len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 2


def test_a_shard_of_the_old_binary_form_is_refused_with_a_re_export_hint(exports: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "train").mkdir(parents=True)
    (root / "classes.csv").write_bytes((exports["parquet"] / "classes.csv").read_bytes())
    new = pq.read_table(exports["parquet"] / "train" / "part-00000.parquet")
    old = pa.table({**{n: new.column(n) for n in new.schema.names if n not in ROLES},
                    **{role: pa.array([c["bytes"] for c in new.column(role).to_pylist()], pa.binary()) for role in ROLES}})  # fmt: skip
    pq.write_table(old, root / "train" / "part-00000.parquet")
    with pytest.raises(TrainError, match=r"old/train/part-00000.parquet: PNGs as plain bytes.*re-export it"):
        open_dataset(root).load("train")
