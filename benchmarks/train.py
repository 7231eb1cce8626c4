"""Training throughput: the full pipeline (loader + augmentation + model) against the model's own compute floor.

    python benchmarks/train.py [--images 96] [--width 16] [--batch-size 8] [--rounds 3] [--device auto]
                               [--precision auto] [--compile] [--full-epoch]

Writes a synthetic split of 128x256 images in the export `cityscapes` layout (the layout of the
public Cityscapes .npy release: float32 images, int64 labels, no classes.csv), then measures in
one process, steps interleaved so that load from other processes hits all alike:
- floor: train steps of the same model and batch on tensors already on the device;
- pipeline: the steps `sunprep train` runs (gather from the in-memory split, convert, augment
  with the default augmentation, then the step), the loader's share timed apart;
- naive: a DataLoader calling np.load per item, NCHW contiguous tensors (the usual notebook loop);
- with `--compile`: the floor's step through `torch.compile`d model (its compile time apart);
and prints the device and precision, images/s, the loader overhead, the time of one epoch of
2,975 images (extrapolated from the measured rate and the measured per-file read time), and peak
memory. `--full-epoch` then also writes 2,975 images (2.3 GB in a temporary folder) and times
one epoch of `sunprep train`.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.npy_dataset import write_npy_dataset
from sunprep.train import precision
from sunprep.train.augment import augment
from sunprep.train.config import TrainConfig
from sunprep.train.data import open_dataset
from sunprep.train.loop import pick_device, prepare, to_batch
from sunprep.train.objective import criterion
from sunprep.train.unet import UNet, UNetConfig

CITYSCAPES_TRAIN = 2975
Step = Callable[[torch.Tensor, torch.Tensor], None]


def make_step(model: torch.nn.Module, mode: str, device: torch.device) -> Step:
    """One optimiser step as `sunprep train` takes it: autocast forward, fp32 loss, scaler."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = precision.grad_scaler(mode, device)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with precision.autocast(mode, device):
            logits = model(x, "h")
        opt.zero_grad(set_to_none=True)
        scaler.scale(criterion(logits, y)).backward()
        scaler.step(opt)
        scaler.update()

    return step


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
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--compile", action="store_true", help="also time the floor's step through torch.compile")
    ap.add_argument("--full-epoch", action="store_true", help="also time one real epoch of 2,975 images")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    mode = precision.resolve(args.precision, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    bs, n = args.batch_size, args.images - args.images % args.batch_size
    aug = TrainConfig(data=Path(), out=Path()).augmentation()
    print(f"torch {torch.__version__}, device {device}"
          f"{f' ({torch.cuda.get_device_name(device)})' if device.type == 'cuda' else ''}, precision {mode}, "
          f"{args.threads} threads, width {args.width}, batch {bs}, {n} images of 128x256, augmentation {aug}")

    with tempfile.TemporaryDirectory() as tmp:
        root = write_npy_dataset(Path(tmp) / "data", n, 1, seed=0, size=(128, 256), n_classes=19, with_classes=False, with_manifest=False)
        t = time.perf_counter()
        split = open_dataset(root).load("train", workers=2)
        read_s = time.perf_counter() - t

        torch.manual_seed(0)
        model = prepare(UNet(UNetConfig(width=args.width), {"h": 19}), device).train()
        steps: dict[str, Step] = {"floor": make_step(model, mode, device)}
        fixed_x, fixed_y = to_batch(split, np.arange(bs), device)
        fixed_x = fixed_x.clone()  # an independent tensor: no gather left in the floor
        naive_model = UNet(UNetConfig(width=args.width), {"h": 19}).to(device).train()  # default NCHW contiguous
        steps["naive"] = make_step(naive_model, mode, device)
        loader = torch.utils.data.DataLoader(NpyItems(root / "train", n), batch_size=bs, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))  # fmt: skip
        compile_s = 0.0
        if args.compile:
            compiled = prepare(UNet(UNetConfig(width=args.width), {"h": 19}), device).train()
            steps["compiled"] = make_step(torch.compile(compiled), mode, device)
            t = time.perf_counter()
            steps["compiled"](fixed_x, fixed_y)  # the first call compiles
            sync()
            compile_s = time.perf_counter() - t
        steps["floor"](fixed_x, fixed_y)  # warm-up: oneDNN picks its kernels on the first call
        steps["naive"](fixed_x.contiguous().to(device), fixed_y)

        # Steps alternate floor / pipeline / naive (/ compiled), so that load from other processes
        # on a shared machine hits all alike; the figures are medians of per-step times.
        times: dict[str, list[float]] = {k: [] for k in ("floor", "pipeline", "naive", "loader", "compiled")}
        rng = np.random.default_rng(0)

        def timed(name: str, run: Callable[[], None]) -> None:
            sync()
            t = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - t)

        for _ in range(args.rounds):
            order = rng.permutation(n)
            naive_batches = iter(loader)
            for b in range(n // bs):
                timed("floor", lambda: steps["floor"](fixed_x, fixed_y))
                idx = order[b * bs : (b + 1) * bs]
                batch: list[torch.Tensor] = []
                timed("loader", lambda: batch.extend(augment(*to_batch(split, idx, device), rng, aug)))  # noqa: B023
                timed("pipeline", lambda: steps["floor"](*batch))  # noqa: B023
                times["pipeline"][-1] += times["loader"][-1]
                x, y = next(naive_batches)
                timed("naive", lambda: steps["naive"](x.to(device), y.to(device)))  # noqa: B023
                if args.compile:
                    timed("compiled", lambda: steps["compiled"](fixed_x, fixed_y))

    rate = {k: bs / statistics.median(v) for k, v in times.items() if v}
    best = {k: bs / min(v) for k, v in times.items() if v}
    overhead = statistics.median(times["loader"]) / statistics.median(times["floor"])
    per_file = read_s / n
    epoch = CITYSCAPES_TRAIN / rate["pipeline"]
    naive_epoch = CITYSCAPES_TRAIN / rate["naive"]
    split_mb = CITYSCAPES_TRAIN * 128 * 256 * (3 * 1 + 2) / 2**20
    print(f"compute floor (in-memory tensors): {rate['floor']:.1f} images/s (fastest step {best['floor']:.1f})")
    print(f"full pipeline (loader + augmentation + model): {rate['pipeline']:.1f} images/s (fastest step {best['pipeline']:.1f})")
    print(f"loader overhead (gather, convert, augment): {1000 * statistics.median(times['loader']):.1f} ms per batch = "
          f"{100 * overhead:.1f} % of the floor's step ({1000 * statistics.median(times['floor']):.1f} ms); "
          f"{100 * sum(times['loader']) / sum(times['pipeline']):.1f} % of pipeline time")
    print(f"naive loop (DataLoader, np.load per item, NCHW, no augmentation): {rate['naive']:.1f} images/s "
          f"(fastest step {best['naive']:.1f})")
    if args.compile:
        print(f"torch.compile: {rate['compiled']:.1f} images/s against eager {rate['floor']:.1f} "
              f"({rate['compiled'] / rate['floor']:.2f}x, fastest steps {best['compiled']:.1f} vs {best['floor']:.1f}); "
              f"compiling took {compile_s:.0f} s")
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
