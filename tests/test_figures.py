"""Every figure, checked by what it holds: titles, axis labels, tick labels (all class names),
colour bars and legends, at 39 classes (SUN RGB-D's) and at 5; and that labels do not overlap."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from fixtures.npy_dataset import classes_csv
from sunprep.figures.canvas import save_png, size_px
from sunprep.figures.curves import training_figure
from sunprep.figures.samples import sample_figure, worst_figure
from sunprep.figures.scores import (
    confusion_figure,
    iou_figure,
    per_image_figure,
    row_normalised,
    scene_type_figure,
)
from sunprep.figures.study import results_figure
from sunprep.labels.classes import ClassTable, load_classes, parse_classes

SUN = load_classes()  # mappings/classes.csv: the 39 classes
SMALL = parse_classes(classes_csv(5), "5 classes")


def texts(labels: list[Text]) -> list[str]:
    return [t.get_text() for t in labels]


def legend_texts(fig: Figure) -> list[str]:
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def colorbar_labels(fig: Figure) -> list[str]:
    """The labels of the figure's colour bars (an axes holding a colour bar has `_colorbar`)."""
    return [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]


def assert_readable(fig: Figure, labels: list[Text]) -> None:
    """No two labels overlap and none is cut off by the figure's edge, as rendered."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text()]
    w, h = size_px(fig)
    for a, b in pairwise(boxes):
        assert not a.overlaps(b), (a, b)
    for box in boxes:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w and box.y1 <= h, box
    assert all(t.get_fontsize() >= 8 for t in labels)


def main_axes(fig: Figure) -> Axes:
    return next(ax for ax in fig.axes if not hasattr(ax, "_colorbar"))


@pytest.mark.parametrize("classes", [SUN, SMALL], ids=["39 classes", "5 classes"])
def test_confusion_matrix_names_both_axes_and_normalises_rows(classes: ClassTable) -> None:
    n = len(classes)
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 50, (n, n)) + np.diag(rng.integers(100, 900, n))
    cm[2] = 0  # a class absent from ground truth
    fig = confusion_figure(cm, classes, "confusion on the val split")
    ax = main_axes(fig)
    assert ax.get_xlabel() == "prediction" and ax.get_ylabel() == "ground truth"
    assert ax.get_title().startswith("confusion on the val split") and "grey rows" in ax.get_title()
    assert texts(ax.get_xticklabels()) == list(classes.names) == texts(ax.get_yticklabels())
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())
    assert colorbar_labels(fig) == ["fraction of the ground-truth row"]
    shown = ax.images[0].get_array()
    assert np.ma.getmaskarray(shown)[2].all() and not np.ma.getmaskarray(shown)[3].any()
    assert np.allclose(np.delete(shown.sum(1), 2), 1)
    assert_readable(fig, ax.get_xticklabels())
    assert_readable(fig, ax.get_yticklabels()[::-1])  # bottom to top, as drawn


@given(arrays(np.int64, st.tuples(st.integers(1, 6), st.just(6)), elements=st.integers(0, 1000)))
def test_row_normalised_rows_sum_to_one_or_are_nan(cm: np.ndarray) -> None:
    cm = cm[:, : cm.shape[0]]
    frac = row_normalised(cm)
    for row, counts in zip(frac, cm):
        assert np.isnan(row).all() if counts.sum() == 0 else math.isclose(row.sum(), 1)


@pytest.mark.parametrize("classes", [SUN, SMALL], ids=["39 classes", "5 classes"])
def test_iou_bars_name_every_class_and_mark_miou(classes: ClassTable) -> None:
    iou = np.linspace(0.05, 1.0, len(classes))
    iou[1] = np.nan
    fig = iou_figure(iou, float(np.nanmean(iou)), classes, "per-class IoU on the val split")
    ax = fig.axes[0]
    assert texts(ax.get_yticklabels()) == list(classes.names)
    assert ax.get_xlabel() == "IoU" and ax.get_ylabel() == "class" and ax.get_xlim() == (0, 1)
    assert ax.get_title() == "per-class IoU on the val split"
    assert legend_texts(fig) == [f"mIoU {np.nanmean(iou):.3f}"]
    assert "absent from truth and prediction" in texts(ax.texts)
    assert [round(p.get_width(), 6) for p in ax.patches] == [round(v, 6) for v in np.nan_to_num(iou)]
    assert_readable(fig, ax.get_yticklabels()[::-1])


def test_training_curves_plot_every_epoch() -> None:
    hist = [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "val_miou": 0.1 * e} for e in range(1, 5)]
    fig = training_figure(hist, "run: 4 of 4 epochs")
    loss, miou = fig.axes
    assert fig.get_suptitle() == "run: 4 of 4 epochs"
    assert (loss.get_title(), miou.get_title()) == ("loss", "validation mIoU")
    assert loss.get_xlabel() == miou.get_xlabel() == "epoch" and miou.get_ylabel() == "mIoU" and miou.get_ylim() == (0, 1)
    assert [list(line.get_xdata()) for line in loss.lines] == [[1, 2, 3, 4]] * 2
    assert list(miou.lines[0].get_ydata()) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert legend_texts(fig) == ["train loss", "val loss", "val mIoU"]
    one = training_figure([{"epoch": 1, "train_loss": 1.0}], "no val")
    assert texts(one.axes[1].texts) == ["no val split: no validation scores"]
    lo, hi = one.axes[0].get_xlim()
    assert [v for v in one.axes[0].get_xticks() if lo <= v <= hi] == [1]  # whole epochs only


def test_results_matrix_marks_forgetting_and_transfer() -> None:
    nan = math.nan
    miou = np.array([[0.7, nan], [nan, 0.99], [0.39, 0.995], [0.98, 0.41]])
    fig = results_figure(["A", "B", "A->B", "B->A"], miou, [nan, nan, 0.31, 0.58], [nan, nan, 0.005, 0.28],
                         ["A (sun)", "B (cs)"], "cross-domain study")  # fmt: skip
    ax = main_axes(fig)
    assert texts(ax.get_xticklabels()) == ["A (sun)", "B (cs)"] and texts(ax.get_yticklabels()) == ["A", "B", "A->B", "B->A"]
    assert ax.get_xlabel() == "evaluated on (val split)" and ax.get_ylabel().startswith("model")
    assert texts(ax.texts) == [
        "0.700", "no head", "no head", "0.990",
        "0.390\nforgetting +0.310", "0.995\ntransfer +0.005", "0.980\ntransfer +0.280", "0.410\nforgetting +0.580",
    ]  # fmt: skip
    assert colorbar_labels(fig) == ["val mIoU"]
    assert [t.split(":")[0] for t in legend_texts(fig)] == ["forgetting", "transfer"]
    assert len([p for p in ax.patches if not p.get_fill()]) == 4  # four outlined cells


def test_per_image_histogram_and_scene_type_bars() -> None:
    per_image = np.array([0.1, 0.5, 0.52, 0.9, np.nan])
    fig = per_image_figure(per_image, 0.6, "per-image mIoU on the val split")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "per-image mIoU" and ax.get_ylabel() == "images" and ax.get_xlim() == (0, 1)
    assert sum(p.get_height() for p in ax.patches) == 4
    assert legend_texts(fig) == ["4 images (1 without labels left out)", "whole split mIoU 0.600", "median image 0.510"]
    fig = scene_type_figure({"bedroom": 0.8, "office": 0.4, "(none)": np.nan}, 0.6, "mIoU per scene type")
    ax = fig.axes[0]
    assert texts(ax.get_yticklabels()) == ["bedroom", "office", "(none)"] and ax.get_ylabel() == "scene type"
    assert legend_texts(fig) == ["whole split mIoU 0.600"]


def _labels(shape: tuple[int, int], ids: list[int]) -> np.ndarray:
    lab = np.array(ids)[np.arange(shape[1]) * len(ids) // shape[1]][None].repeat(shape[0], 0)
    lab[:2] = -1
    return lab


@pytest.mark.parametrize("classes", [SUN, SMALL], ids=["39 classes", "5 classes"])
def test_worst_panel_shows_truth_and_prediction_with_a_legend(classes: ClassTable) -> None:
    image = np.zeros((32, 64, 3), np.uint8)
    gt, pred = _labels((32, 64), [0, 3, 4]), _labels((32, 64), [1, 4])
    fig = worst_figure(image, gt, pred, classes, "kv2/kinect2data/000002_x: mIoU 0.120  (val/4)")
    assert fig.get_suptitle().startswith("kv2/kinect2data/000002_x: mIoU 0.120")
    assert [ax.get_title() for ax in fig.axes] == ["image", "ground truth", "prediction"]
    assert legend_texts(fig) == [classes.names[i] for i in (0, 1, 3, 4)] + ["void"]
    assert np.array_equal(fig.axes[1].images[0].get_array()[5, 0], classes.colours[0])


@pytest.mark.parametrize("classes", [SUN, SMALL], ids=["39 classes", "5 classes"])
def test_sample_picture_has_depth_colour_bar_in_metres(classes: ClassTable) -> None:
    image = np.full((32, 64, 3), 0.5, np.float32)
    depth = np.linspace(0.5, 4, 64, dtype=np.float32)[None].repeat(32, 0)
    depth[0, 0] = 0
    fig = sample_figure(image, _labels((32, 64), [2, 4]), depth, classes, "scene0004  (val sample 4 of 8)")
    assert fig.get_suptitle() == "scene0004  (val sample 4 of 8)"
    images = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    assert [ax.get_title() for ax in images] == ["image", "labels over the image (void: bare)", "depth (grey: missing)"]
    assert colorbar_labels(fig) == ["depth (m)"]
    assert legend_texts(fig) == [classes.names[2], classes.names[4]]
    bare = sample_figure(image, np.full((32, 64), -1), None, classes, "t")
    assert "no depth stored" in texts(bare.axes[2].texts) and not colorbar_labels(bare)
    assert bare.legends[0].get_title().get_text() == "classes present: none (every pixel void)"


def test_save_png_writes_the_figure_at_its_size_and_nothing_else(tmp_path: Path) -> None:
    fig = iou_figure(np.full(len(SUN), 0.5), 0.5, SUN, "t")
    path = save_png(fig, tmp_path / "sub" / "iou.png")
    assert Image.open(path).size == size_px(fig) == (800, round(100 * (1.4 + 0.26 * len(SUN))))
    assert [p.name for p in path.parent.iterdir()] == ["iou.png"]
