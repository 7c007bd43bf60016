"""A streamed recording: the decision over time against the true class, and the compute time
of every tick against its budget (:func:`eventsnn.bench.replay.stream_recording`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eventsnn.viz.figure import check_size, new_figure, save

if TYPE_CHECKING:
    from eventsnn.bench.replay import StreamResult

__all__ = ["plot_stream"]


def plot_stream(result: StreamResult, path: str | Path, title: str = "", figsize: tuple[float, float] = (10, 6),
                dpi: float = 110) -> Path:
    """Write ``path`` (PNG): top, the decided class at every tick (green when it is the true
    class, red otherwise; the true class as a band) with the confidence below it; bottom, the
    compute time per tick (preprocessing + STC, network) against the tick length."""
    fig = new_figure(check_size(figsize, dpi))
    top, mid, low = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1, 2]})
    t = result.times_us / 1e6
    pred = result.predictions
    if result.label is not None:
        top.axhspan(result.label - 0.4, result.label + 0.4, color="tab:green", alpha=0.15,
                    label=f"true class: {result.classes[result.label]}")
        right = pred == result.label
        top.scatter(t[right], pred[right], s=6, color="tab:green", label="decision (right)")
        top.scatter(t[~right], pred[~right], s=6, color="tab:red", label="decision (wrong)")
    else:
        top.scatter(t, pred, s=6, color="tab:blue", label="decision")
    top.set_yticks(range(len(result.classes)), result.classes)
    top.set_ylim(-0.6, len(result.classes) - 0.4)
    top.legend(loc="upper right", fontsize=8)
    acc = f", {100 * result.accuracy:.1f}% of the decisions right" if result.accuracy is not None else ""
    top.set_title(title or f"{result.mode} mode: a decision every {result.step_us / 1000:g} ms "
                  f"(window {result.window_us / 1000:g} ms, T={result.T}){acc}", fontsize=10)
    mid.plot(t, result.confidence, lw=0.8, color="tab:gray")
    mid.set_ylabel("confidence")
    mid.set_ylim(0, 1.05)
    low.plot(t, result.prep_ms, lw=0.6, label="preprocessing + STC")
    low.plot(t, result.compute_ms, lw=0.6, label="total (+ network)")
    low.axhline(result.step_us / 1000, color="k", ls="--", lw=0.8, label="tick length (real time)")
    low.set_yscale("log")
    low.set_ylabel("compute ms / tick")
    low.set_xlabel("recording time (s)")
    med = float(np.median(result.compute_ms))
    low.legend(loc="upper right", fontsize=8,
               title=f"median {med:.3f} ms: {result.realtime_factor:.0f}x real time", title_fontsize=8)
    fig.tight_layout()
    return save(fig, path, dpi)
