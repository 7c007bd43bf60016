"""ANN-to-SNN conversion pictures: SNN accuracy against T, with the ANN's accuracy dashed.

Rows are those of :func:`eventsnn.convert.convert_and_evaluate` (``method``, ``T``, ``acc`` in
%; ``ann`` / ``ann_acc`` / ``n_test`` where several ANNs are compared).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes

from eventsnn.viz.figure import new_figure, save

__all__ = ["plot_accuracy_vs_T", "plot_conversion_panels"]


def _method_lines(ax: Axes, rows: Sequence[dict[str, Any]], ms: float, dotted: str | None = None) -> None:
    """One line per ``method`` (accuracy % vs T, log2 axis, 0-100 %); methods starting with
    ``dotted`` are drawn dotted."""
    for method in dict.fromkeys(r["method"] for r in rows):
        pts = sorted((r["T"], r["acc"]) for r in rows if r["method"] == method)
        ls = ":" if dotted is not None and method.startswith(dotted) else "-"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], ls=ls, marker="o", ms=ms, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)


def plot_accuracy_vs_T(rows: Sequence[dict], ann_acc: float | dict[str, float], path: str | Path,
                       title: str = "") -> Path:
    """Accuracy (%) vs T (log2 axis), one line per method, dashed line(s) at the ANN accuracy.

    ``ann_acc`` is one number, or ``{label: accuracy}`` for several ANNs (rows then carry an
    ``"ann"`` key naming theirs)."""
    fig = new_figure((7.5, 4.8))
    ax = fig.subplots()
    anns = ann_acc if isinstance(ann_acc, dict) else {"ANN": ann_acc}
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, acc) in enumerate(anns.items()):
        ax.axhline(acc, ls="--", lw=1.2, color=colors[i % len(colors)] if len(anns) > 1 else "k",
                   label=f"{label} ({acc:.1f}%)" if label.startswith("ANN") else f"ANN {label} ({acc:.1f}%)")
    _method_lines(ax, rows, ms=4)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save(fig, path, 120)


def plot_conversion_panels(rows: Sequence[dict[str, Any]], path: str | Path) -> Path | None:
    """One panel per ANN (``ann``; its ``ann_acc`` dashed, ``n_test`` in the title), one line
    per method; SpikingJelly's methods (``spikingjelly...``) dotted. None when there is no row."""
    anns = list(dict.fromkeys(r["ann"] for r in rows))
    if not anns:
        return None
    fig = new_figure((5.2 * len(anns), 4.4))
    axes = fig.subplots(1, len(anns), squeeze=False)
    for ax, label in zip(axes[0], anns, strict=True):
        mine = [r for r in rows if r["ann"] == label]
        ann_acc = mine[0]["ann_acc"]
        ax.axhline(ann_acc, color="k", ls="--", lw=1.2, label=f"ANN {ann_acc:.1f}%")
        _method_lines(ax, mine, ms=3.5, dotted="spikingjelly")
        ax.set_title(f"{label} (n_test={mine[0]['n_test']})", fontsize=9)
        ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    return save(fig, path, 120)
