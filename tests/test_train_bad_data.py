"""Bad training data through the CLI: one line naming the file, exit 5 (TrainError), no traceback.

Checked where the data is read (sunprep.export.reading), before the first step, so a NaN pixel
cannot turn into a NaN loss and NaN weights saved with exit 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fixtures.npy_dataset import write_npy_dataset, write_parquet_dataset
from sunprep.cli.app import app


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _nan_pixel(path: Path, value: float) -> None:
    img = np.load(path)
    img[3, 5, 1] = value
    np.save(path, img)


NPY_CASES = {
    "label-strings": (lambda r: np.save(r / "train/label/1.npy", np.full((32, 64), "ab")), "train/label/1.npy: label dtype <U2"),
    "label-objects": (
        lambda r: np.save(r / "train/label/1.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True),
        "train/label/1.npy: not a readable .npy array",
    ),
    "label-truncated": (lambda r: _truncate(r / "train/label/2.npy"), "train/label/2.npy: not a readable .npy array"),
    "label-zero-bytes": (lambda r: (r / "train/label/0.npy").write_bytes(b""), "train/label/0.npy: not a readable .npy array"),
    "image-nan": (lambda r: _nan_pixel(r / "train/image/3.npy", np.nan), "train/image/3.npy: non-finite image values"),
    "image-inf": (lambda r: _nan_pixel(r / "train/image/2.npy", np.inf), "train/image/2.npy: non-finite image values"),
}


def _train(root: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["train", "--data", str(root), "--out", str(out), "--epochs", "1", "--width", "4", "--poolings", "1"])
    return result.exit_code, result.output


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_bad_npy_data_is_exit_5_naming_the_file(tmp_path: Path, case: str) -> None:
    damage, message = NPY_CASES[case]
    root = write_npy_dataset(tmp_path / "d", 4, 2)
    damage(root)
    code, output = _train(root, tmp_path / "run")
    assert code == 5, output
    assert message in output and "Traceback" not in output
    assert len([line for line in output.splitlines() if "error" in line]) == 1


def test_corrupt_label_png_in_a_parquet_shard_is_exit_5(tmp_path: Path) -> None:
    root = write_parquet_dataset(tmp_path / "d", 4, 2)
    shard = root / "train" / "part-00000.parquet"
    table = pq.read_table(shard)
    labels = table.column("label").to_pylist()
    labels[2]["bytes"] = labels[2]["bytes"][:40]  # signature and header, the image data cut off
    column = pa.array(labels, table.schema.field("label").type)
    pq.write_table(table.set_column(table.schema.get_field_index("label"), "label", column), shard)
    code, output = _train(root, tmp_path / "run")
    assert code == 5, output
    assert f"{shard}[index=2].label: unreadable label PNG" in output and "Traceback" not in output
