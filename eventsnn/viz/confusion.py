"""The confusion matrix of an evaluation: row-normalised colours with the counts written in."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eventsnn.viz.figure import new_figure, save

__all__ = ["plot_confusion"]


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (colour) with counts (text) as a PNG.

    ``confusion``: ``[C, C]`` counts, rows = true class, columns = predicted class.
    """
    c = np.asarray(confusion)
    rows = c.sum(1, keepdims=True)
    norm = np.divide(c, rows, out=np.zeros_like(c, dtype=float), where=rows > 0)
    n = len(classes)
    size = max(4.0, 0.45 * n + 2.0)
    fig = new_figure((size + 1.0, size))
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    long_names = max(len(s) for s in classes) > 2
    ax.set_xticks(range(n), classes, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(n):
        for j in range(n):
            if c[i, j]:
                ax.text(j, i, str(int(c[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save(fig, path, 110)
