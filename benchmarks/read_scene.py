"""How fast the reader is, against the floor of decoding the same files with bare PIL.

    python benchmarks/read_scene.py [N]

Writes N full-size (730x530) fixture scenes, half seg.mat and half index.json, then times
`read_scene`, `read_labels` and the floor (PIL decode of the JPEG and the depth PNG, nothing
else) over them, best of 3. The ratios say what the reader's checks and label decoding cost on
top of the decoding any reader must do.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # fixtures/ lives at the repo root

from fixtures.scenes import write_dataset
from sunprep.sunrgbd.scene import read_labels, read_scene


def best_of(fn, scenes: list[Path], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for s in scenes:
            fn(s)
        times.append(time.perf_counter() - t)
    return min(times) / len(scenes)


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scenes = write_dataset(root, n, seed=0)

        def floor(s: Path) -> None:
            np.asarray(Image.open(next((s / "image").glob("*.jpg"))).convert("RGB"))
            np.asarray(Image.open(next((s / "depth_bfx").glob("*.png"))))

        t_floor = best_of(floor, scenes)
        t_scene = best_of(lambda s: read_scene(s, root), scenes)
        t_labels = best_of(lambda s: read_labels(s, root), scenes)
    print(f"scenes: {n} at 730x530")
    print(f"floor (PIL decode jpg+png): {t_floor * 1000:.1f} ms/scene")
    print(f"read_scene:  {t_scene * 1000:.1f} ms/scene  ({t_scene / t_floor:.2f}x floor)")
    print(f"read_labels: {t_labels * 1000:.1f} ms/scene  ({t_labels / t_floor:.2f}x floor)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
