"""Dataset-level segmentation metrics from one int64 confusion matrix.

The matrix is accumulated over the whole split and IoU is computed once at the end: averaging
per-batch mIoU (as many notebooks do) weights small batches and absent classes wrongly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def confusion(gt: torch.Tensor, pred: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) int64 counts, rows = ground truth, columns = prediction; gt outside 0..n-1 (void) is dropped.

    One `bincount` over `n * gt + pred`: no per-class loop.
    """
    gt = gt.reshape(-1).to(torch.int64)
    pred = pred.reshape(-1).to(torch.int64)
    keep = (gt >= 0) & (gt < n)
    return torch.bincount(n * gt[keep] + pred[keep], minlength=n * n).reshape(n, n)


@dataclass(frozen=True)
class Scores:
    """Per-class and summary scores; NaN marks a class absent from both ground truth and prediction."""

    iou: np.ndarray  # (n,) float64
    acc: np.ndarray  # (n,) float64 recall per class; NaN where the class is absent from gt
    miou: float  # mean IoU over classes present in gt or prediction
    pixel_acc: float  # correct / labelled pixels
    mean_acc: float  # mean per-class accuracy over classes present in gt
    pixels: int  # labelled (non-void) pixels counted


def scores(cm: np.ndarray | torch.Tensor) -> Scores:
    """IoU = tp / (gt + pred - tp) per class; means skip classes with an empty union (nanmean)."""
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm).astype(np.float64)
    gt = cm.sum(1).astype(np.float64)
    union = gt + cm.sum(0) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt > 0, tp / gt, np.nan)
    total = int(cm.sum())
    return Scores(
        iou=iou,
        acc=acc,
        miou=_nanmean(iou),
        pixel_acc=float(tp.sum() / total) if total else float("nan"),
        mean_acc=_nanmean(acc),
        pixels=total,
    )


def _nanmean(x: np.ndarray) -> float:
    """Mean over the non-NaN entries, NaN (not a warning) when there are none (an all-void split)."""
    ok = ~np.isnan(x)
    return float(x[ok].mean()) if ok.any() else float("nan")


def score_text(x: float, digits: int = 6, empty: str = "") -> str:
    """A score for a table or CSV; NaN (a class never seen, so no score) is `empty`, not "nan"."""
    return empty if math.isnan(x) else f"{x:.{digits}f}"
