"""Scores as pictures: the confusion matrix and per-class IoU (evaluate), the per-image mIoU
distribution and per-scene-type mIoU (analyze).

Sizes grow with the number of classes so that 39 class names fit on both axes of the confusion
matrix at the default 10-point font (about 26 px per class); bars are horizontal so that long
names (`shower curtain`, `night stand`) read without rotation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sunprep.figures.canvas import colour, new_figure
from sunprep.labels.classes import ClassTable

ANNOTATE_UP_TO = 12  # classes: beyond, numbers in the cells would be smaller than the tick labels


def row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each ground-truth row as fractions (recall along the diagonal); NaN for a class absent from
    ground truth, which is no row of zeros but a row with nothing to say."""
    rows = cm.sum(1, keepdims=True)
    return np.divide(cm, rows, out=np.full(cm.shape, np.nan), where=rows > 0)


def confusion_figure(cm: np.ndarray, classes: ClassTable, title: str) -> Figure:
    """Row-normalised confusion: ground truth down, prediction across, a colour bar of 0..1."""
    n = len(classes)
    frac = row_normalised(cm)
    side = max(5.0, 2.6 + 0.26 * n)
    fig = new_figure(side + 1.4, side)
    ax = fig.add_subplot()
    ax.set_facecolor("0.85")  # masked rows (class absent from ground truth) show as grey
    im = ax.imshow(np.ma.masked_invalid(frac), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(n), classes.names, rotation=90)
    ax.set_yticks(range(n), classes.names)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    absent = int(np.isnan(frac[:, 0]).sum())
    note = "rows normalised: recall on the diagonal" + ("; grey rows: absent from ground truth" if absent else "")
    ax.set_title(f"{title}\n{note}")
    if n <= ANNOTATE_UP_TO:
        for (i, j), v in np.ndenumerate(frac):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="black" if v > 0.6 else "white")
    fig.colorbar(im, ax=ax, shrink=0.8, label="fraction of the ground-truth row")
    return fig


def score_bars(
    names: Sequence[str], values: Sequence[float] | np.ndarray, colours: Sequence[tuple[float, float, float]], mean: float, mean_label: str,
    *, title: str, xlabel: str, ylabel: str, missing: str,
) -> Figure:
    """Horizontal bars of scores in 0..1, first name on top, each bar numbered, `mean` marked by a
    dashed line in the legend; NaN values get the text `missing` instead of a bar."""
    n = len(names)
    fig = new_figure(8.0, max(3.0, 1.4 + 0.26 * n))
    ax = fig.add_subplot()
    vals = np.asarray(values, np.float64)
    ax.barh(range(n), np.nan_to_num(vals), color=colours, edgecolor="black", linewidth=0.5)
    for i, v in enumerate(vals):
        text, x, ha = (missing, 0.01, "left") if math.isnan(v) else (f"{v:.3f}", v - 0.01, "right") if v > 0.85 else (f"{v:.3f}", v + 0.01, "left")
        ax.text(x, i, text, va="center", ha=ha, fontsize=8, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.8})
    ax.set_yticks(range(n), names)
    ax.set_ylim(n - 0.5, -0.5)  # first on top, as in the tables
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if not math.isnan(mean):
        ax.axvline(mean, color="black", linestyle="--", linewidth=1.2, label=f"{mean_label} {mean:.3f}")
        fig.legend(loc="outside lower center", frameon=False)
    return fig


def iou_figure(iou: np.ndarray, miou: float, classes: ClassTable, title: str) -> Figure:
    """Per-class IoU in the class colours, mIoU marked."""
    return score_bars(
        classes.names, iou, [colour(c) for c in classes.colours], miou, "mIoU", title=title, xlabel="IoU",
        ylabel="class", missing="absent from truth and prediction",
    )  # fmt: skip


def scene_type_figure(miou: dict[str, float], overall: float, title: str) -> Figure:
    """mIoU of each scene type's images pooled (one confusion per type), the split's mIoU marked."""
    return score_bars(
        list(miou), list(miou.values()), [colour((31, 119, 180))] * len(miou), overall, "whole split mIoU", title=title,
        xlabel="mIoU", ylabel="scene type", missing="no labelled pixels",
    )  # fmt: skip


def per_image_figure(image_miou: np.ndarray, overall: float, title: str) -> Figure:
    """Histogram of per-image mIoU in 20 bins over 0..1; the split's mIoU and the median image marked."""
    ok = image_miou[~np.isnan(image_miou)]
    fig = new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.hist(ok, bins=list(np.linspace(0, 1, 21)), color=colour((31, 119, 180)), edgecolor="black", linewidth=0.5,
            label=f"{ok.size} images" + (f" ({image_miou.size - ok.size} without labels left out)" if ok.size < image_miou.size else ""))  # fmt: skip
    if not math.isnan(overall):
        ax.axvline(overall, color="black", linestyle="--", label=f"whole split mIoU {overall:.3f}")
    if ok.size:
        ax.axvline(float(np.median(ok)), color="tab:orange", linestyle=":", linewidth=2, label=f"median image {np.median(ok):.3f}")
    ax.set_xlim(0, 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("per-image mIoU")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig
