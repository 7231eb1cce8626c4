"""Training throughput: the full pipeline (loader + model) against the model's own compute floor.

    python benchmarks/train.py [--images 96] [--width 16] [--batch-size 8] [--rounds 3] [--full-epoch]

Writes a synthetic split of 128x256 images in the export `cityscapes` layout (the layout of the
public Cityscapes .npy release: float32 images, int64 labels, no classes.csv), then measures in
one process, steps interleaved so that load from other processes hits all alike:
- floor: train steps of the same model and batch on tensors already in memory;
- pipeline: the steps `sunprep train` runs (gather from the in-memory split, flip, convert);
- naive: a DataLoader calling np.load per item, NCHW contiguous tensors (the usual notebook loop);
and prints images/s, the loader overhead, the time of one epoch of 2,975 images (extrapolated
from the measured rate and the measured per-file read time), and peak memory. `--full-epoch`
then also writes 2,975 images (2.3 GB in a temporary folder) and times one epoch of `sunprep train`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.npy_dataset import write_npy_dataset
from sunprep.train.data import open_dataset
from sunprep.train.loop import prepare, to_batch
from sunprep.train.unet import UNet, UNetConfig

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
    ap.add_argument("--full-epoch", action="store_true", help="also time one real epoch of 2,975 images")
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

        # Steps alternate floor / pipeline / naive, so that load from other processes on a shared
        # machine hits all three alike; the figures are medians of per-step times.
        times: dict[str, list[float]] = {"floor": [], "pipeline": [], "naive": [], "loader": []}
        rng = np.random.default_rng(0)
        for _ in range(args.rounds):
            order, flips = rng.permutation(n), rng.random(n) < 0.5
            naive_batches = iter(loader)
            for b in range(n // bs):
                t = time.perf_counter()
                step(model, opt, fixed_x, fixed_y)
                times["floor"].append(time.perf_counter() - t)
                t = time.perf_counter()
                idx = order[b * bs : (b + 1) * bs]
                x, y = to_batch(split, idx, flips[idx], device)
                times["loader"].append(time.perf_counter() - t)
                step(model, opt, x, y)
                times["pipeline"].append(time.perf_counter() - t)
                t = time.perf_counter()
                step(naive_model, naive_opt, *next(naive_batches))
                times["naive"].append(time.perf_counter() - t)

    rate = {k: bs / statistics.median(v) for k, v in times.items()}
    best = {k: bs / min(v) for k, v in times.items()}
    loader_share = sum(times["loader"]) / sum(times["pipeline"])
    per_file = read_s / n
    epoch = CITYSCAPES_TRAIN / rate["pipeline"]
    naive_epoch = CITYSCAPES_TRAIN / rate["naive"]
    split_mb = CITYSCAPES_TRAIN * 128 * 256 * (3 * 1 + 2) / 2**20
    print(f"compute floor (in-memory tensors): {rate['floor']:.1f} images/s (fastest step {best['floor']:.1f})")
    print(f"full pipeline (loader + model):    {rate['pipeline']:.1f} images/s (fastest step {best['pipeline']:.1f})")
    print(f"loader overhead: {100 * (1 - rate['pipeline'] / rate['floor']):.1f} % of the floor's rate; "
          f"time in the loader: {100 * loader_share:.2f} % of pipeline time ({1000 * statistics.median(times['loader']):.2f} ms per batch)")
    print(f"naive loop (DataLoader, np.load per item, NCHW): {rate['naive']:.1f} images/s (fastest step {best['naive']:.1f})")
    print(f"one epoch of {CITYSCAPES_TRAIN} images at 128x256: {epoch:.0f} s training + {per_file * CITYSCAPES_TRAIN:.0f} s "
          f"to read the split once ({1000 * per_file:.1f} ms per image+label); naive loop: {naive_epoch:.0f} s")  # fmt: skip
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"a {CITYSCAPES_TRAIN}-image split in memory (uint8 images, int16 labels): {split_mb:.0f} MB")
    if args.full_epoch:
        full_epoch(args.width, bs)


def full_epoch(width: int, bs: int) -> None:
    """One epoch of `sunprep train` over 2,975 images on disk, in a child process (its own peak RSS)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        # Written by another child: a fork of a parent that held the 2 GB of generated arrays
        # would count them in the training child's peak RSS (ru_maxrss survives exec).
        write = (f"from fixtures.npy_dataset import write_npy_dataset; write_npy_dataset({str(root)!r}, {CITYSCAPES_TRAIN}, 1, "
                 "seed=1, size=(128, 256), n_classes=19, with_classes=False, with_manifest=False)")  # fmt: skip
        subprocess.run([sys.executable, "-c", write], check=True, cwd=Path(__file__).resolve().parents[1])
        cmd = [sys.executable, "-m", "sunprep", "train", "--data", str(root), "--out", str(Path(tmp) / "run"),
               "--epochs", "1", "--width", str(width), "--batch-size", str(bs), "--device", "cpu", "--quiet"]  # fmt: skip
        t = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        total = time.perf_counter() - t
        if status:
            raise SystemExit(f"sunprep train failed with status {status}")
        row = torch.load(Path(tmp) / "run" / "last.pt", weights_only=True)["history"][0]
    print(f"real epoch of {CITYSCAPES_TRAIN} images (`sunprep train`, 1 val image): {row['seconds']:.0f} s "
          f"({row['images_per_s']:.1f} images/s); {total:.0f} s for the whole command; "
          f"its peak RSS {usage.ru_maxrss / 1024:.0f} MB, CPU {100 * (usage.ru_utime + usage.ru_stime) / total:.0f} % of one core")


if __name__ == "__main__":
    main()
