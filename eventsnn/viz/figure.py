"""Figures without pyplot: an Agg canvas per figure, saved atomically.

Every picture of :mod:`eventsnn.viz` is drawn through the object-oriented API on a
:class:`~matplotlib.figure.Figure` with its own ``FigureCanvasAgg``: no global backend switch
(``matplotlib.use``), nothing left open in pyplot, and notebooks keep their (inline) backend.
Files are written through :func:`eventsnn.outputs.save_figure` (temporary file, then rename).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eventsnn.errors import InvalidParameterError
from eventsnn.outputs import save_figure

__all__ = ["check_size", "new_figure", "save"]


def check_size(figsize: Sequence[float], dpi: float) -> tuple[float, float]:
    """``(width, height)`` in inches, checked (both > 0, ``dpi`` > 0)."""
    if len(figsize) != 2 or min(figsize) <= 0 or dpi <= 0:
        raise InvalidParameterError(f"figsize must be (width, height) > 0 inches and dpi > 0, got {figsize}, {dpi}")
    return float(figsize[0]), float(figsize[1])


def new_figure(figsize: Sequence[float]) -> Figure:
    """A figure of ``figsize`` inches drawn by Agg, without pyplot."""
    fig = Figure(figsize=(float(figsize[0]), float(figsize[1])))
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path, dpi: float) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) on white, atomically; returns the path.
    The image is ``figsize * dpi`` pixels (no tight bounding box)."""
    return save_figure(fig, path, dpi=dpi, facecolor="white")
