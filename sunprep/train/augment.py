"""Training-time augmentation: the field's standard pipeline, on whole batches in the training process.

torchvision's references/segmentation and mmsegmentation's Cityscapes configs both train with
random resize (0.5-2.0), a random crop back to the input size (labels padded with void), a
horizontal flip and photometric distortion. Labels are resized nearest-neighbour, so they only
ever hold values they held before (or void where padding was added): nothing is interpolated.

Each operation is a pure function of its inputs and explicit parameters; `augment` draws the
parameters from a numpy Generator the caller seeds (per epoch and step), so a resumed run replays
exactly the same augmentations. They run on the batch tensors on the training device (a few
interpolations per image), which keeps the loader as cheap as before.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sunprep.labels.classes import VOID
from sunprep.train.config import AugmentConfig


def hflip(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror image (C,H,W) and label (H,W) together."""
    return x.flip(-1), y.flip(-1)


def rescale(x: torch.Tensor, y: torch.Tensor, factor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize by `factor`: the image bilinearly, the label nearest-neighbour (no invented labels)."""
    h, w = y.shape
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    xs = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=factor < 1)[0]
    # "nearest-exact" samples at pixel centres, as bilinear with align_corners=False does; plain
    # "nearest" floors and shifts labels up to a pixel against the image.
    ys = F.interpolate(y[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()
    return xs, ys


def crop_or_pad(x: torch.Tensor, y: torch.Tensor, size: tuple[int, int], top: int, left: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The `size` window whose corner is at (`top`, `left`) of the padded canvas.

    A side smaller than `size` is padded first (image with 0, label with void), so `top`/`left`
    range over max(0, side - target).
    """
    h, w = size
    ph, pw = max(0, h - y.shape[0]), max(0, w - y.shape[1])
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), value=0.0)
        y = F.pad(y, (0, pw, 0, ph), value=VOID)
    return x[:, top:top + h, left:left + w], y[top:top + h, left:left + w]


def photometric(x: torch.Tensor, brightness: float, contrast: float, saturation: float) -> torch.Tensor:
    """mmseg's PhotoMetricDistortion without hue: add, scale about the mean, blend with grey; clipped to [0, 1]."""
    x = x + brightness
    mean = x.mean()
    x = (x - mean) * contrast + mean
    grey = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
    x = grey + (x - grey) * saturation
    return x.clamp_(0.0, 1.0)


def augment(x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, cfg: AugmentConfig
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch (B,C,H,W) float in [0,1], (B,H,W) int64; returns new tensors of the same shapes."""
    if not cfg.any:
        return x, y
    size = (y.shape[1], y.shape[2])
    xs, ys = [], []
    for xi, yi in zip(x, y, strict=True):
        if cfg.scale is not None:
            xi, yi = rescale(xi, yi, float(rng.uniform(*cfg.scale)))
            top = int(rng.integers(0, max(0, yi.shape[0] - size[0]) + 1))
            left = int(rng.integers(0, max(0, yi.shape[1] - size[1]) + 1))
            xi, yi = crop_or_pad(xi, yi, size, top, left)
        if cfg.flip and rng.random() < 0.5:
            xi, yi = hflip(xi, yi)
        if cfg.photometric:
            b, c, s = rng.random(3) < 0.5
            xi = photometric(xi, float(rng.uniform(-32, 32)) / 255 if b else 0.0,
                             float(rng.uniform(0.5, 1.5)) if c else 1.0, float(rng.uniform(0.5, 1.5)) if s else 1.0)
        xs.append(xi)
        ys.append(yi)
    out_x = torch.stack(xs)
    if x.is_contiguous(memory_format=torch.channels_last):
        out_x = out_x.contiguous(memory_format=torch.channels_last)
    return out_x, torch.stack(ys)
