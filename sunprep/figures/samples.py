"""Samples as pictures: analyze's worst cases (image | truth | prediction) and `sunprep show`'s
image | labels over the image | depth, each with a legend of the classes it shows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sunprep.figures.canvas import class_handles, label_rgb, new_figure
from sunprep.labels.classes import ClassTable

PANEL_WIDTH = 4.6  # inches per image panel: a 128x256 export is shown at 1.8x
LEGEND_COLUMNS = 6
LABEL_ALPHA = 0.55  # class colour over the image: the colour reads, the objects still show


def present(*labels: np.ndarray) -> tuple[list[int], bool]:
    """Class ids occurring in any of `labels`, sorted, and whether any pixel is void."""
    ids = sorted({int(v) for lab in labels for v in np.unique(lab) if v >= 0})
    return ids, any(bool((lab < 0).any()) for lab in labels)


def _layout(shape: tuple[int, int], panels: int, legend_entries: int) -> Figure:
    """A row of `panels` image axes sized to the image's aspect, room below for the legend."""
    h, w = shape
    legend_rows = -(-legend_entries // LEGEND_COLUMNS)
    return new_figure(PANEL_WIDTH * panels + 0.6, PANEL_WIDTH * h / w + 1.1 + 0.28 * legend_rows)


def _image_axes(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(fig: Figure, classes: ClassTable, ids: Sequence[int], void: bool) -> None:
    handles = class_handles(classes, ids, void)
    title = "classes present" if handles else "classes present: none (every pixel void)"
    fig.legend(handles=handles, loc="outside lower center", ncol=min(LEGEND_COLUMNS, max(1, len(handles))),
               title=title, frameon=False)  # fmt: skip


def as_float(image: np.ndarray) -> np.ndarray:
    """uint8 or [0, 1] float image -> float [0, 1]."""
    return image.astype(np.float32) / 255 if image.dtype == np.uint8 else image.astype(np.float32)


def worst_figure(image: np.ndarray, gt: np.ndarray, pred: np.ndarray, classes: ClassTable, title: str) -> Figure:
    """image | ground truth | prediction, labels in class colours (void black)."""
    ids, void = present(gt, pred)
    fig = _layout(gt.shape, 3, len(ids) + void)
    for ax, arr, name in zip(fig.subplots(1, 3), (as_float(image), label_rgb(gt, classes), label_rgb(pred, classes)),
                             ("image", "ground truth", "prediction")):  # fmt: skip
        ax.imshow(arr, interpolation="nearest")
        _image_axes(ax, name)
    _legend(fig, classes, ids, void)
    fig.suptitle(title)
    return fig


def sample_figure(image: np.ndarray, label: np.ndarray, depth: np.ndarray | None, classes: ClassTable, title: str) -> Figure:
    """image | labels over the image (void left bare) | depth in metres with a colour bar (0 = missing, grey)."""
    ids, void = present(label)
    fig = _layout(label.shape, 3, len(ids))
    ax_img, ax_lab, ax_depth = fig.subplots(1, 3)
    rgb = as_float(image)
    ax_img.imshow(rgb)
    _image_axes(ax_img, "image")
    over = np.where((label >= 0)[..., None], (1 - LABEL_ALPHA) * rgb + LABEL_ALPHA * label_rgb(label, classes) / 255, rgb)
    ax_lab.imshow(over, interpolation="nearest")
    _image_axes(ax_lab, "labels over the image" + (" (void: bare)" if void else ""))
    if depth is None:
        ax_depth.text(0.5, 0.5, "no depth stored", ha="center", va="center", transform=ax_depth.transAxes)
        _image_axes(ax_depth, "depth")
    else:
        ax_depth.set_facecolor("0.6")
        im = ax_depth.imshow(np.ma.masked_equal(depth, 0), cmap="turbo", interpolation="nearest")
        _image_axes(ax_depth, "depth (grey: missing)" if (depth == 0).any() else "depth")
        fig.colorbar(im, ax=ax_depth, label="depth (m)", shrink=0.9)
    _legend(fig, classes, ids, False)
    fig.suptitle(title)
    return fig
