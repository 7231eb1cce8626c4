"""Training throughput: the full pipeline (loader + model) against the model's own compute floor.

    python benchmarks/train.py [--images 96] [--width 16] [--batch-size 8] [--rounds 3]

Writes a synthetic split of 128x256 images in the export `cityscapes` layout (the layout of the
public Cityscapes .npy release: float32 images, int64 labels, no classes.csv), then measures in
one process, rounds interleaved so that load from other processes hits both alike:
- floor: train steps of the same model and batch on tensors already in memory;
- pipeline: the steps `sunprep train` runs (gather from the in-memory split, flip, convert);
- naive: a DataLoader calling np.load per item, NCHW contiguous tensors (the usual notebook loop);
and prints images/s, the loader overhead, the time of one epoch of 2,975 images (extrapolated
from the measured rate and the measured per-file read time), and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.npy_dataset import write_npy_dataset  # noqa: E402
from sunprep.train.data import open_dataset  # noqa: E402
from sunprep.train.loop import prepare, to_batch  # noqa: E402
from sunprep.train.unet import UNet, UNetConfig  # noqa: E402

CITYSCAPES_TRAIN = 2975


def step(model: UNet, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    loss = F.cross_entropy(model(x, "h"), y, ignore_index=-1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class NpyItems(torch.utils.data.Dataset):
    """The naive reader: one np.load per image and per label, every epoch."""

    def __init__(self, folder: Path, n: int) -> None:
        self.folder, self.n = folder, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = np.load(self.folder / "image" / f"{i}.npy")
        lab = np.load(self.folder / "label" / f"{i}.npy")
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), torch.from_numpy(lab)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bs, n = args.batch_size, args.images - args.images % args.batch_size
    print(f"torch {torch.__version__}, {args.threads} threads, width {args.width}, batch {bs}, {n} images of 128x256")

    with tempfile.TemporaryDirectory() as tmp:
        root = write_npy_dataset(Path(tmp) / "data", n, 1, seed=0, size=(128, 256), n_classes=19, with_classes=False, with_manifest=False)
        t = time.perf_counter()
        split = open_dataset(root).load("train", workers=2)
        read_s = time.perf_counter() - t

        torch.manual_seed(0)
        device = torch.device("cpu")
        model = prepare(UNet(UNetConfig(width=args.width), {"h": 19}), device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        fixed_x, fixed_y = to_batch(split, np.arange(bs), None, device)
        fixed_x = fixed_x.clone()  # an independent tensor: no gather left in the floor
        naive_model = UNet(UNetConfig(width=args.width), {"h": 19})  # default NCHW contiguous
        naive_opt = torch.optim.AdamW(naive_model.parameters(), lr=1e-3)
        loader = torch.utils.data.DataLoader(NpyItems(root / "train", n), batch_size=bs, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))  # fmt: skip
        step(model, opt, fixed_x, fixed_y)  # warm-up: oneDNN picks its kernels on the first call
        step(naive_model, naive_opt, fixed_x.contiguous(), fixed_y)

        floor, pipeline, naive = [], [], []
        rng = np.random.default_rng(0)
        for _ in range(args.rounds):
            t = time.perf_counter()
            for _ in range(n // bs):
                step(model, opt, fixed_x, fixed_y)
            floor.append(n / (time.perf_counter() - t))
            t = time.perf_counter()
            order, flips = rng.permutation(n), rng.random(n) < 0.5
            for b in range(n // bs):
                idx = order[b * bs : (b + 1) * bs]
                step(model, opt, *to_batch(split, idx, flips[idx], device))
            pipeline.append(n / (time.perf_counter() - t))
            t = time.perf_counter()
            for x, y in loader:
                step(naive_model, naive_opt, x, y)
            naive.append(n / (time.perf_counter() - t))

    best = {k: max(v) for k, v in (("floor", floor), ("pipeline", pipeline), ("naive", naive))}
    med = {k: statistics.median(v) for k, v in (("floor", floor), ("pipeline", pipeline), ("naive", naive))}
    per_file = read_s / n
    epoch = CITYSCAPES_TRAIN / best["pipeline"]
    naive_epoch = CITYSCAPES_TRAIN / best["naive"]
    split_mb = CITYSCAPES_TRAIN * 128 * 256 * (3 * 1 + 2) / 2**20
    print(f"compute floor (in-memory tensors): {best['floor']:.1f} images/s (median {med['floor']:.1f})")
    print(f"full pipeline (loader + model):    {best['pipeline']:.1f} images/s (median {med['pipeline']:.1f})")
    print(f"loader overhead: {100 * (1 - best['pipeline'] / best['floor']):.1f} % (medians: {100 * (1 - med['pipeline'] / med['floor']):.1f} %)")
    print(f"naive loop (DataLoader, np.load per item, NCHW): {best['naive']:.1f} images/s (median {med['naive']:.1f})")
    print(f"one epoch of {CITYSCAPES_TRAIN} images at 128x256: {epoch:.0f} s training + {per_file * CITYSCAPES_TRAIN:.0f} s "
          f"to read the split once ({1000 * per_file:.1f} ms per image+label); naive loop: {naive_epoch:.0f} s")  # fmt: skip
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"a {CITYSCAPES_TRAIN}-image split in memory (uint8 images, int16 labels): {split_mb:.0f} MB")


if __name__ == "__main__":
    main()
