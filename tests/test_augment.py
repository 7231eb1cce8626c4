"""Augmentation keeps image and label aligned and never invents labels; the schedule and the loss."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sunprep.labels.classes import VOID
from sunprep.train.augment import augment, crop_or_pad, hflip, photometric, rescale
from sunprep.train.config import AugmentConfig
from sunprep.train.objective import criterion
from sunprep.train.schedule import lr_at, warmup_steps

N_CLASSES = 7


def coded_batch(seed: int, b: int = 3, h: int = 32, w: int = 48, block: int = 8, pairs: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocky images whose red channel encodes the label: class k is red (k + 1) / 8, void is 0.

    Any op that moves the image without its label (or the reverse) breaks `decode(x) == y`.
    `pairs`: each image holds two labels at least 2 apart, so that any blend of them is a third.
    """
    g = np.random.default_rng(seed)
    coarse = g.integers(-1, N_CLASSES, size=(b, h // block, w // block))
    if pairs:
        lo = g.integers(-1, N_CLASSES - 2, size=(b, 1, 1))
        coarse = np.where(g.random(coarse.shape) < 0.5, lo, g.integers(lo + 2, N_CLASSES))
    y = torch.from_numpy(np.kron(coarse, np.ones((block, block), np.int64)))
    x = torch.zeros(b, 3, h, w)
    x[:, 0] = (y + 1).float() / 8
    x[:, 1] = torch.from_numpy(g.random((b, 1, 1))).float()  # other channels: anything
    return x, y


def decode(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x[:, 0] * 8).long() - 1


def interior(y: torch.Tensor) -> torch.Tensor:
    """Pixels whose 5x5 neighbourhood holds one label: there the (antialiased, at factors >= 0.5)
    bilinear image and the nearest label must agree. The frame is never interior: beyond a crop's
    edge lay pixels that the image saw and the label does not show."""
    p = F.pad(y[:, None].float(), (2, 2, 2, 2), value=-99.0)
    lo, hi = -F.max_pool2d(-p, 5, 1), F.max_pool2d(p, 5, 1)
    return (lo == hi)[:, 0]


def test_flip_moves_image_and_label_together() -> None:
    x, y = coded_batch(0)
    fx, fy = hflip(x[0], y[0])
    assert torch.equal(decode(fx[None])[0], fy) and torch.equal(fy, y[0].flip(-1))


@pytest.mark.parametrize("factor", [0.5, 0.75, 1.5, 2.0])
def test_rescale_keeps_alignment_and_uses_nearest_labels(factor: float) -> None:
    x, y = coded_batch(1, block=16, pairs=True)
    sx, sy = rescale(x[0], y[0], factor)
    assert sy.shape == (round(32 * factor), round(48 * factor)) and sy.dtype == torch.int64
    assert set(sy.unique().tolist()) <= set(y.unique().tolist())
    inside = interior(sy[None])[0]
    assert inside.float().mean() > 0.05
    assert torch.equal(decode(sx[None])[0][inside], sy[inside])


def test_crop_pads_labels_with_void_and_images_with_zero() -> None:
    x, y = coded_batch(2)
    cx, cy = crop_or_pad(x[0], y[0], (40, 60), 0, 0)  # larger than the 32x48 input: padded
    assert cy.shape == (40, 60) and cx.shape == (3, 40, 60)
    assert torch.equal(cy[:32, :48], y[0]) and torch.equal(cx[:, :32, :48], x[0])
    assert bool((cy[32:] == VOID).all() and (cy[:, 48:] == VOID).all())  # padding is void, not a class
    assert bool((cx[:, 32:] == 0).all() and (cx[:, :, 48:] == 0).all())
    _, my = crop_or_pad(x[0], y[0], (20, 60), 7, 0)  # taller than needed, narrower: cut rows, pad columns
    assert torch.equal(my[:, :48], y[0, 7:27]) and bool((my[:, 48:] == VOID).all())
    sx, sy = crop_or_pad(x[0], y[0], (16, 20), 5, 9)  # smaller: a plain window
    assert torch.equal(sy, y[0, 5:21, 9:29]) and torch.equal(sx, x[0, :, 5:21, 9:29])


def test_photometric_changes_the_image_only() -> None:
    x, _ = coded_batch(3)
    out = photometric(x[0].clone(), 0.1, 1.3, 0.7)
    assert not torch.equal(out, x[0]) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(photometric(x[0].clone(), 0.0, 1.0, 1.0), x[0])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.booleans(), flip=st.booleans())
def test_augmented_batches_stay_aligned_and_hold_only_old_labels(seed: int, scale: bool, flip: bool) -> None:
    x, y = coded_batch(seed, pairs=True)
    cfg = AugmentConfig(scale=(0.5, 2.0) if scale else None, flip=flip, photometric=False)
    ax, ay = augment(x, y, np.random.default_rng(seed), cfg)
    assert ax.shape == x.shape and ay.shape == y.shape and ay.dtype == torch.int64
    for before, after in zip(y, ay, strict=True):  # per image: another image's labels would hide a blend
        assert set(after.unique().tolist()) <= set(before.unique().tolist()) | {VOID}
    inside = interior(ay) & (ay != VOID)
    assert torch.equal(decode(ax)[inside], ay[inside])


def test_augment_is_a_function_of_its_generator() -> None:
    x, y = coded_batch(4)
    cfg = AugmentConfig()
    a = augment(x, y, np.random.default_rng([0, 1, 2]), cfg)
    b = augment(x, y, np.random.default_rng([0, 1, 2]), cfg)
    c = augment(x, y, np.random.default_rng([0, 1, 3]), cfg)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])


def test_flips_happen_about_half_the_time_and_flip_the_label() -> None:
    x, y = coded_batch(5, b=64)
    ax, ay = augment(x, y, np.random.default_rng(0), AugmentConfig(scale=None, flip=True, photometric=False))
    flipped = [bool(torch.equal(ay[i], y[i].flip(-1))) and not torch.equal(y[i], y[i].flip(-1)) for i in range(64)]
    assert 16 < sum(flipped) < 48
    assert torch.equal(decode(ax), ay)


@pytest.mark.parametrize(("total", "fraction"), [(36, 0.05), (1000, 0.05), (10, 0.0), (2, 0.5), (1, 0.05)])
def test_schedule_warms_up_then_reaches_zero_after_the_last_step(total: int, fraction: float) -> None:
    warm = warmup_steps(total, fraction)
    f = [lr_at(s, total, warm) for s in range(total + 1)]
    assert f[total] == 0.0  # after the last step
    assert all(v > 0 for v in f[:total])  # every step taken learns
    assert max(f) == 1.0 and f[warm] == 1.0
    assert all(a < b for a, b in itertools.pairwise(f[: warm + 1]))  # rising in warm-up
    assert all(a > b for a, b in zip(f[warm:total], f[warm + 1 : total + 1], strict=True))  # then falling to 0
    assert f[total - 1] < 0.2 or total <= 2


def test_loss_counts_only_labelled_pixels() -> None:
    """A void-only image contributes nothing; one labelled pixel is the whole loss (the criterion's rule)."""
    logits = torch.randn(2, 4, 3, 5, requires_grad=True)
    y = torch.full((2, 3, 5), VOID)
    y[1, 2, 4] = 3
    loss = criterion(logits, y)
    assert torch.isclose(loss, F.cross_entropy(logits[1:, :, 2, 4], y[1:, 2, 4]))
    assert float(criterion(logits[:1], y[:1], reduction="sum").detach()) == 0.0
    loss.backward()
    assert logits.grad is not None and bool((logits.grad[0] == 0).all())
    assert int((logits.grad[1].abs().sum(0) > 0).sum()) == 1
