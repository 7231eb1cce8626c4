"""Making and writing a figure: matplotlib's Agg canvas (no screen needed), PNG written atomically.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot: pyplot keeps
global state (a current figure, an interactive backend chosen from the environment) that a
library must not touch, and a Figure on the Agg canvas renders the same with or without a
display. Sizes are fixed in inches at DPI, with constrained layout fitting the labels inside:
a file is exactly `figsize * DPI` pixels (no `bbox_inches="tight"` cropping), so a test can
check it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sunprep.atomic import atomic_path
from sunprep.labels.classes import ClassTable

DPI = 100  # 10-point text is ~14 px high: readable at 100 % on any screen
VOID_COLOUR = (0, 0, 0)  # as `ClassTable.palette` draws void


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of `width` x `height` inches on the Agg canvas, constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def size_px(fig: Figure) -> tuple[int, int]:
    """(width, height) in pixels of the PNG `save_png` writes, as PIL reports it."""
    w, h = fig.get_size_inches() * fig.dpi
    return round(w), round(h)


def save_png(fig: Figure, path: Path) -> Path:
    """Render to `path` atomically (a reader never sees half a PNG); returns `path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})  # no version stamp: same data, same bytes
    return path


def colour(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """0..255 RGB -> matplotlib's 0..1."""
    return rgb[0] / 255, rgb[1] / 255, rgb[2] / 255


def class_handles(classes: ClassTable, ids: Iterable[int], void: bool = False) -> list[Patch]:
    """Legend entries (class colour, class name) for `ids`, then void when asked."""
    handles = [Patch(facecolor=colour(classes.colours[i]), edgecolor="black", linewidth=0.5, label=classes.names[i]) for i in ids]
    if void:
        handles.append(Patch(facecolor=colour(VOID_COLOUR), edgecolor="black", linewidth=0.5, label="void"))
    return handles


def label_rgb(label: np.ndarray, classes: ClassTable) -> np.ndarray:
    """(H, W) class ids (negative = void) -> (H, W, 3) uint8 in class colours, void black."""
    return classes.palette()[np.where(label < 0, 255, label)]
