"""sunprep's training defaults against the field's reference recipe, and the sweep that chose them.

    python benchmarks/recipe.py sweep      # short runs: which peak rate / warm-up / augmentation learn
    python benchmarks/recipe.py compare    # texture set with a shifted val split: defaults vs reference
    python benchmarks/recipe.py finetune   # pre-train on one synthetic domain, fine-tune onto another: rates x lengths
    python benchmarks/recipe.py compare --epochs 125 --lrs 1e-3 3e-3 1e-2 --unet-width 8 ...  # the long run

`sweep` trains the issue's short-run case (5 colour classes, 48 training images at 128x256, void
cells, 6 epochs = 36 steps of 8) for each setting and prints val mIoU. `compare` trains, at equal
optimiser steps and batch size, sunprep's defaults (`sunprep.train.loop.train`, unchanged) and the
torchvision references/segmentation + mmsegmentation recipe: SGD momentum 0.9, lr 0.01, weight
decay 1e-4, poly(0.9), random resize 0.5-2.0 + crop (void padding) + flip, on a set whose classes
differ by colour *and* texture and whose val split differs from train the way real data does
(objects at other scales, brighter or darker). Both print mIoU from one dataset-level confusion
matrix over the val split, and images/s.

The reference runs on sunprep's own U-Net: segmentation_models_pytorch's Unet needs torchvision,
which does not import beside the project's CPU torch 2.13.0 (its compiled operators are for
another build), so the recipe, not the architecture, is what is compared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.npy_dataset import classes_csv, palette, write_npy_dataset
from sunprep.labels.classes import VOID
from sunprep.train.augment import augment
from sunprep.train.checkpoint import space_key
from sunprep.train.config import AugmentConfig, TrainConfig
from sunprep.train.data import Dataset, Split, open_dataset
from sunprep.train.loop import evaluate_split, load_for_eval, prepare, to_batch, train
from sunprep.train.metrics import scores
from sunprep.train.unet import UNet, UNetConfig


def write_split(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    for sub in ("image", "label"):
        (root / split / sub).mkdir(parents=True, exist_ok=True)
    for i, (img, lab) in enumerate(zip(images, labels, strict=True)):
        np.save(root / split / "image" / f"{i}.npy", img)
        np.save(root / split / "label" / f"{i}.npy", lab)


def write_set(root: Path, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], n_classes: int) -> Path:
    write_split(root, "train", *train)
    write_split(root, "val", *val)
    (root / "classes.csv").write_text(classes_csv(n_classes))
    return root


def texture_samples(n: int, *, seed: int, size: tuple[int, int], shifted: bool) -> tuple[np.ndarray, np.ndarray]:
    """6 classes = 3 colours x (flat | stripes): colour alone cannot tell them apart.

    The shifted split has fewer, larger objects, stripes at another period and a brightness
    offset per image, as a test set from other rooms and cameras would.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    colours = palette(3)
    images = np.empty((n, h, w, 3), np.float32)
    labels = np.empty((n, h, w), np.int64)
    for i in range(n):
        cells = int(rng.integers(3, 6)) if shifted else int(rng.integers(6, 12))
        centres = rng.uniform([0, 0], [h, w], size=(cells, 2))
        cell = np.argmin((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2, axis=-1)
        cls = rng.integers(0, 6, cells)
        cls[rng.random(cells) < 0.1] = VOID
        lab = cls[cell]
        period = rng.uniform(7, 11) if shifted else rng.uniform(4, 6)
        stripes = (np.sin(2 * np.pi * (xx + yy) / period) > 0).astype(np.float32)[..., None]
        base = np.where(lab[..., None] >= 0, colours[np.maximum(lab, 0) % 3], 0.5)
        textured = (lab >= 3)[..., None]
        img = np.where(textured, base * (0.55 + 0.45 * stripes), base * 0.775)
        img = img + (rng.uniform(-0.15, 0.15) if shifted else 0.0) + rng.normal(0, 0.04, img.shape)
        images[i] = np.rint(np.clip(img, 0, 1) * 255).astype(np.float32) / 255
        labels[i] = lab
    return images, labels


def object_samples(n: int, *, seed: int, size: tuple[int, int], n_classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The issue's short-run case: a few coloured objects (colour decides the class) on a void background."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    colours = palette(n_classes)
    images = np.empty((n, h, w, 3), np.float32)
    labels = np.full((n, h, w), VOID, np.int64)
    for i in range(n):
        lab = labels[i]
        for _ in range(int(rng.integers(2, 6))):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(0.08, 0.25) * h, rng.uniform(0.05, 0.2) * w
            lab[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, n_classes)
        img = np.where(lab[..., None] >= 0, colours[np.maximum(lab, 0)], 0.5) + rng.normal(0, 0.05, (h, w, 3))
        images[i] = np.rint(np.clip(img, 0, 1) * 255).astype(np.float32) / 255
    return images, labels


def run_sunprep(cfg: TrainConfig) -> tuple[float, float]:
    """(val mIoU, train images/s) of `sunprep train` with `cfg`."""
    rows: list[dict[str, float]] = []
    train(cfg, on_epoch=rows.append)
    return rows[-1]["val_miou"], float(np.mean([r["images_per_s"] for r in rows]))


def run_reference(data: Path, steps: int, batch: int, width: int, seed: int) -> tuple[float, float]:
    """torchvision/mmseg recipe: SGD(0.9) lr 0.01, wd 1e-4, poly(0.9) without warm-up, resize + crop + flip."""
    ds = open_dataset(data)
    tr, va = ds.load("train", 2), ds.load("val", 2)
    n = len(ds.classes)
    torch.manual_seed(seed)
    model = prepare(UNet(UNetConfig(width=width), {"h": n}), torch.device("cpu"))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps) ** 0.9)
    aug = AugmentConfig(scale=(0.5, 2.0), flip=True, photometric=False)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    t0 = time.perf_counter()
    model.train()
    for _ in range(steps):
        while len(order) < batch:
            order += list(rng.permutation(len(tr)))
        idx, order = np.array(order[:batch]), order[batch:]
        x, y = augment(*to_batch(tr, idx, torch.device("cpu")), rng, aug)
        loss = F.cross_entropy(model(x, "h"), y, ignore_index=VOID)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    speed = steps * batch / (time.perf_counter() - t0)
    cm, _ = evaluate_split(model, "h", va, n, 16, torch.device("cpu"))
    return scores(cm).miou, speed


def sweep(work: Path, args: argparse.Namespace) -> None:
    size = (args.height, args.width)
    data = write_set(work / "short", object_samples(48, seed=0, size=size), object_samples(16, seed=1, size=size), 5)
    base = TrainConfig(data=data, out=work, epochs=6, batch_size=8, width=16, workers=2)
    settings = [(lr, wu, aug) for lr in args.lrs for wu in args.warmups for aug in args.augment]
    print(f"short run: 48 images {size[0]}x{size[1]}, 5 colour classes on void, 6 epochs x 6 steps of 8 (36 steps), "
          "val 16 images")
    print(f"{'lr':>7} {'warm-up':>8} {'augment':>8} {'val mIoU':>9} {'img/s':>7}")
    for k, (lr, wu, aug) in enumerate(settings):
        off = aug == "none"
        cfg = replace(base, out=work / f"s{k}", lr=lr, warmup=wu, flip=not off, scale=not off, photometric=not off)
        miou, speed = run_sunprep(cfg)
        print(f"{lr:>7g} {wu:>8g} {aug:>8} {miou:>9.3f} {speed:>7.1f}", flush=True)


def compare(work: Path, args: argparse.Namespace) -> None:
    size = (args.height, args.width)
    data = write_set(work / "texture", texture_samples(args.images, seed=0, size=size, shifted=False),
                     texture_samples(args.images // 4, seed=1, size=size, shifted=True), 6)
    batch = 8
    steps_per_epoch = -(-args.images // batch)
    print(f"texture set: {args.images} train / {args.images // 4} shifted val images at {size[0]}x{size[1]}, 6 classes, "
          f"batch {batch}, U-Net width {args.unet_width}, {torch.get_num_threads()} threads")
    print(f"{'steps':>6} " + " ".join(f"{f'sunprep lr {lr:g}':>17} {'img/s':>7}" for lr in args.lrs)
          + f" {'reference':>10} {'img/s':>7}")
    for epochs in args.epochs:
        steps = epochs * steps_per_epoch
        cells = []
        for lr in args.lrs:
            cfg = TrainConfig(data=data, out=work / f"d{epochs}_{lr:g}", epochs=epochs, batch_size=batch, lr=lr,
                              width=args.unet_width, workers=2)
            miou, speed = run_sunprep(cfg)
            cells.append(f"{miou:>17.3f} {speed:>7.1f}")
        ref, ref_speed = run_reference(data, steps, batch, args.unet_width, 0)
        print(f"{steps:>6} " + " ".join(cells) + f" {ref:>10.3f} {ref_speed:>7.1f}", flush=True)


def finetune(work: Path, args: argparse.Namespace) -> None:
    """Pre-train on colour mosaics (A), fine-tune onto the texture set (B) at several rates and lengths."""
    size, width = (args.height, args.width), args.unet_width
    a = write_npy_dataset(work / "a", 96, 24, seed=0, size=size, n_classes=5)
    b = write_set(work / "b", texture_samples(args.images, seed=2, size=size, shifted=False),
                  texture_samples(args.images // 4, seed=3, size=size, shifted=True), 6)
    pre = train(TrainConfig(data=a, out=work / "pre", epochs=args.pre_epochs, batch_size=8, width=width, seed=args.seed,
                            workers=2))
    a_ds = open_dataset(a)
    a_val = a_ds.load("val", 2)
    a_before = score(pre, a_ds, a_val)
    steps_per_epoch = -(-args.images // 8)
    print(f"A: 96 colour-mosaic images (fixtures.npy_dataset, 5 classes) at {size[0]}x{size[1]}, {args.pre_epochs} epochs "
          f"with the defaults: A val mIoU {a_before:.3f}")
    print(f"B: texture set, {args.images} train / {args.images // 4} shifted val images, 6 classes; U-Net width {width}, "
          f"batch 8, seed {args.seed}, {torch.get_num_threads()} threads")
    print(f"{'lr':>7} {'epochs':>6} {'steps':>5} {'B mIoU, A->B':>13} {'A mIoU after':>13} {'B from scratch (lr 1e-2)':>25}")
    for epochs in args.epochs:
        scratch, _ = run_sunprep(TrainConfig(data=b, out=work / f"s{epochs}", epochs=epochs, batch_size=8, width=width,
                                             seed=args.seed, workers=2))
        for lr in args.lrs:
            rows: list[dict[str, float]] = []
            tuned = train(TrainConfig(data=b, out=work / f"f{epochs}_{lr:g}", epochs=epochs, batch_size=8, lr=lr,
                                      width=width, init=pre, seed=args.seed, workers=2), on_epoch=rows.append)
            print(f"{lr:>7g} {epochs:>6} {epochs * steps_per_epoch:>5} {rows[-1]['val_miou']:>13.3f} "
                  f"{score(tuned, a_ds, a_val):>13.3f} {scratch:>25.3f}", flush=True)


def score(ckpt: Path, ds: Dataset, val: Split) -> float:
    """Val mIoU of `ckpt` with the head of `ds`'s label space."""
    model, _ = load_for_eval(ckpt, torch.device("cpu"))
    cm, _ = evaluate_split(model, space_key(ds.classes), val, len(ds.classes), 16, torch.device("cpu"))
    return scores(cm).miou


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 2e-2])
    s.add_argument("--warmups", type=float, nargs="+", default=[0.0, 0.05])
    s.add_argument("--augment", nargs="+", default=["none", "full"], choices=["none", "full"])
    s.add_argument("--height", type=int, default=128)
    s.add_argument("--width", type=int, default=256)
    c = sub.add_parser("compare")
    c.add_argument("--images", type=int, default=192)
    c.add_argument("--epochs", type=int, nargs="+", default=[5, 15], help="run lengths (epochs of the train split)")
    c.add_argument("--height", type=int, default=128)
    c.add_argument("--width", type=int, default=256)
    c.add_argument("--lrs", type=float, nargs="+", default=[TrainConfig.lr], help="sunprep's peak rates to run")
    c.add_argument("--unet-width", type=int, default=16, help="U-Net channels at full resolution (both recipes)")
    f = sub.add_parser("finetune")
    f.add_argument("--images", type=int, default=48, help="B's train images (val: a quarter as many)")
    f.add_argument("--pre-epochs", type=int, default=20)
    f.add_argument("--epochs", type=int, nargs="+", default=[5, 10, 20], help="fine-tuning lengths")
    f.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2])
    f.add_argument("--height", type=int, default=64)
    f.add_argument("--width", type=int, default=128)
    f.add_argument("--unet-width", type=int, default=8)
    f.add_argument("--seed", type=int, default=0, help="of weights, order and augmentation (the data stay the same)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        {"sweep": sweep, "compare": compare, "finetune": finetune}[args.what](Path(tmp), args)


if __name__ == "__main__":
    main()
