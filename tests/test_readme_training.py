"""README "Training an off-the-shelf model on an export": snippets (a) and (b), taken out of
README.md as printed there and run on fixture exports, so that a snippet that stops working
fails here rather than for a reader."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.scenes import write_dataset
from sunprep.export.run import ExportConfig, run_export

README = Path(__file__).resolve().parents[1] / "README.md"
SIZE = (32, 64)  # smp-style sides divisible by 32, as at 128x256
OUTPUT = re.compile(r"^(\d+) samples of \(3, 32, 64\), (\d+) classes, last loss (\d+\.\d\d)$")


def snippet(name: str) -> str:
    """The python block right after `<!-- run by tests/test_readme_training.py: NAME -->`."""
    marker = f"<!-- run by tests/test_readme_training.py: {name} -->"
    found = re.findall(re.escape(marker) + r"\n```python\n(.*?)```\n", README.read_text(), re.S)
    assert len(found) == 1, f"README.md: want one python block after {marker!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `out/cityscapes` and `out/parquet`, the paths the snippets name."""
    root = tmp_path_factory.mktemp("scenes")
    write_dataset(root, 8, seed=3, size=(53, 73))
    work = tmp_path_factory.mktemp("work")
    for fmt in ("cityscapes", "parquet"):
        run_export(ExportConfig(root=root, out=work / "out" / fmt, format=fmt, size=SIZE, workers=1))  # type: ignore[arg-type]
    return work


@pytest.mark.parametrize("name, fmt", [("npy", "cityscapes"), ("parquet", "parquet")])
def test_readme_snippet_trains_on_an_export(workdir: Path, name: str, fmt: str) -> None:
    if name == "parquet":
        pytest.importorskip("datasets", reason="Hugging Face datasets is not installed (the test extra has it)")
    env = {**os.environ, "HF_DATASETS_CACHE": str(workdir / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", snippet(name)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    match = OUTPUT.match(line)
    assert match, line
    n_train = len(list((workdir / "out" / "cityscapes" / "train" / "image").glob("*.npy")))
    n_classes = len((workdir / "out" / fmt / "classes.csv").read_text().splitlines()) - 1
    assert (int(match[1]), int(match[2])) == (n_train, n_classes) and 0 < float(match[3]) < 10
