"""Training curves: the rows of a run's metrics.csv (loss and val mIoU per epoch) as two panels."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sunprep.figures.canvas import new_figure


def training_figure(history: Sequence[dict[str, float]], title: str) -> Figure:
    """Left: train and val loss; right: val mIoU on 0..1. Markers, so one epoch is a visible point."""
    epochs = [int(r["epoch"]) for r in history]
    column = lambda key: [r.get(key, math.nan) for r in history]
    fig = new_figure(11.0, 4.2)
    loss, miou = fig.subplots(1, 2)
    loss.plot(epochs, column("train_loss"), marker="o", label="train loss")
    has_val = any(not math.isnan(v) for v in column("val_miou"))
    if has_val:
        loss.plot(epochs, column("val_loss"), marker="s", label="val loss")
        miou.plot(epochs, column("val_miou"), marker="o", color="tab:green", label="val mIoU")
        miou.legend(loc="upper left")  # mIoU starts low: early epochs leave the top left empty
    else:
        miou.text(0.5, 0.5, "no val split: no validation scores", ha="center", va="center", transform=miou.transAxes)
    loss.set_title("loss")
    loss.set_ylabel("cross-entropy per labelled pixel")
    loss.legend(loc="upper right")
    miou.set_title("validation mIoU")
    miou.set_ylabel("mIoU")
    miou.set_ylim(0, 1)
    for ax in (loss, miou):
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, max(epochs, default=1) + 0.5)  # whole epochs, one epoch included
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
