"""The cross-domain study's results matrix: every model's val mIoU on both domains as an
annotated heatmap, with the cells forgetting and transfer are read from outlined."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from sunprep.figures.canvas import new_figure

Dash = Literal["-", "--"]
FORGETTING: tuple[str, Dash] = ("tab:red", "--")  # outline colour and line style of the cells forgetting is read from
TRANSFER: tuple[str, Dash] = ("magenta", "-")


def results_figure(
    models: Sequence[str], miou: np.ndarray, forgetting: Sequence[float], transfer: Sequence[float], domains: Sequence[str],
    title: str,
) -> Figure:
    """`miou[i, j]`: model i on domain j (NaN: no head for it). Model `X->Y` is fine-tuned from X to
    Y: its X cell shows forgetting (dashed red outline), its Y cell transfer (magenta outline)."""
    fig = new_figure(8.5, 1.8 + 0.9 * len(models))
    ax = fig.add_subplot()
    ax.set_facecolor("0.85")
    im = ax.imshow(np.ma.masked_invalid(miou), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    names = [d.split(" ", 1)[0] for d in domains]  # "A", "B"
    for i, model in enumerate(models):
        source, target = model.split("->") if "->" in model else (None, None)
        for j, v in enumerate(miou[i]):
            lines = ["no head" if math.isnan(v) else f"{v:.3f}"]
            style: tuple[str, Dash] | None = None
            if names[j] == source:
                lines.append(f"forgetting {forgetting[i]:+.3f}")
                style = FORGETTING
            elif names[j] == target:
                lines.append(f"transfer {transfer[i]:+.3f}")
                style = TRANSFER
            ink = "black" if not math.isnan(v) and v > 0.6 else "white" if not math.isnan(v) else "black"
            ax.text(j, i, "\n".join(lines), ha="center", va="center", fontsize=10, color=ink)
            if style:
                ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, linewidth=2.5, edgecolor=style[0], linestyle=style[1]))
    ax.set_xticks(range(len(domains)), domains)
    ax.set_yticks(range(len(models)), models)
    ax.set_xlabel("evaluated on (val split)")
    ax.set_ylabel("model (X->Y: trained on X, fine-tuned on Y)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="val mIoU")
    handles = [
        Line2D([], [], linewidth=2.5, color=FORGETTING[0], linestyle=FORGETTING[1], label="forgetting: source mIoU lost by fine-tuning"),
        Line2D([], [], linewidth=2.5, color=TRANSFER[0], linestyle=TRANSFER[1], label="transfer: target mIoU gained over training from scratch"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=1, frameon=False)
    return fig
