"""Benchmark pictures: accuracy, latency and cost against the number of time steps T.

- :func:`plot_bench_results`: the three pictures of ``eventsnn bench`` (rows of
  :func:`eventsnn.bench.bench_model`): ``accuracy_vs_T.png`` (offline, streaming, early exit),
  ``latency_vs_T.png`` (STC + network at batch 1), ``accuracy_vs_energy.png``;
- :func:`plot_method_accuracy`: held-out accuracy against T, one line per training method (rows
  with ``method``, ``T``, ``accuracy``, ``n_test``: the side-by-side accuracy benchmarks);
- :func:`plot_accuracy_vs_cost`: accuracy against latency and against synaptic operations, one
  line per method (the latency benchmark).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from eventsnn.viz.figure import new_figure, save

__all__ = ["plot_accuracy_vs_cost", "plot_bench_results", "plot_method_accuracy"]

_DPI = 110


def _by_model(rows: Sequence[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """``key`` value -> its rows sorted by T, in order of first appearance."""
    return {k: sorted((r for r in rows if r[key] == k), key=lambda r: r["T"])
            for k in dict.fromkeys(r[key] for r in rows)}


def _log2_T_axis(ax: Axes, rows: Sequence[dict[str, Any]]) -> None:
    """x axis = T on a log2 scale, ticks at the values of T present."""
    ax.set_xscale("log", base=2)
    all_T = sorted({r["T"] for r in rows})
    ax.set_xticks(all_T, [str(t) for t in all_T])
    ax.set_xlabel("time steps T")


def plot_bench_results(rows: Sequence[dict[str, Any]], out: str | Path) -> dict[str, Path]:
    """``accuracy_vs_T.png``, ``latency_vs_T.png``, ``accuracy_vs_energy.png`` in ``out`` (one
    line per ``model``); returns ``{name: path}``."""
    out = Path(out)
    models = _by_model(rows, "model")
    paths = {}

    fig = new_figure((6.4, 4.4))
    ax = fig.subplots()
    for i, (m, rs) in enumerate(models.items()):
        T = [r["T"] for r in rs]
        c = f"C{i}"
        ax.plot(T, [100 * r["accuracy"] for r in rs], "o-", color=c, label=f"{m}: offline")
        ax.plot(T, [100 * r["stream_accuracy"] for r in rs], "s--", color=c, alpha=0.7, label=f"{m}: streaming")
        ax.plot(T, [100 * r["early_exit_accuracy"] for r in rs], "^:", color=c, alpha=0.7,
                label=f"{m}: early exit (label: mean exit step)")
        for r in rs:
            ax.annotate(f"{r['early_exit_step_mean']:.1f}", (r["T"], 100 * r["early_exit_accuracy"]),
                        fontsize=7, color=c, textcoords="offset points", xytext=(5, -10))
    _log2_T_axis(ax, rows)
    ax.minorticks_off()
    lows = [100 * min(r["accuracy"], r["stream_accuracy"], r["early_exit_accuracy"]) for r in rows]
    ax.set_ylim(max(0.0, min(lows, default=0.0) - 5.0), 101.0)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs time steps")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths["accuracy_vs_T"] = save(fig, out / "accuracy_vs_T.png", _DPI)

    fig = new_figure((6.4, 4.4))
    ax = fig.subplots()
    width = 0.8 / max(1, len(models))
    for i, m in enumerate(models):
        rs = [r for r in models[m] if "total_ms_median" in r]
        if not rs:
            continue
        pos = np.arange(len(rs)) + (i - (len(models) - 1) / 2) * width
        comp = [r["compress_ms_median"] for r in rs]
        net = [r["network_ms_median"] for r in rs]
        ax.bar(pos, comp, width, color=f"C{i}", alpha=0.45, label=f"{m}: STC (median)")
        ax.bar(pos, net, width, bottom=comp, color=f"C{i}", label=f"{m}: network (median)")
        p95 = [r["total_ms_p95"] for r in rs]
        ax.errorbar(pos, [a + b for a, b in zip(comp, net, strict=True)],
                    yerr=[np.zeros(len(rs)), np.subtract(p95, np.add(comp, net))],
                    fmt="none", ecolor="k", capsize=3, lw=1)
        ax.set_xticks(np.arange(len(rs)), [str(r["T"]) for r in rs])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("latency per recording, batch 1 (ms)")
    ax.set_title("Latency vs T (bars: median; whisker: p95 of the total)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths["latency_vs_T"] = save(fig, out / "latency_vs_T.png", _DPI)

    fig = new_figure((6.4, 4.4))
    ax = fig.subplots()
    for i, (m, rs) in enumerate(models.items()):
        e = [r["energy_uj"] for r in rs]
        ax.plot(e, [100 * r["accuracy"] for r in rs], "o-", color=f"C{i}", label=m)
        for r in rs:
            ax.annotate(f"T={r['T']}", (r["energy_uj"], 100 * r["accuracy"]), fontsize=7,
                        textcoords="offset points", xytext=(4, -10))
    ax.set_xscale("log")
    ax.set_xlabel("energy per recording (µJ, estimate: 0.9 pJ/AC, 4.6 pJ/MAC, 45 nm)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy vs estimated synaptic energy")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths["accuracy_vs_energy"] = save(fig, out / "accuracy_vs_energy.png", _DPI)
    return paths


def plot_method_accuracy(rows: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Held-out accuracy (%) against T, one line per ``method``, each point labelled with its
    value, with the test-set size (``n_test`` of the first row) on the y axis."""
    fig = new_figure((5.5, 4))
    ax = fig.subplots()
    for method, rs in _by_model(rows, "method").items():
        ts = [r["T"] for r in rs]
        acc = [100 * r["accuracy"] for r in rs]
        ax.plot(ts, acc, marker="o", label=method)
        for t, a in zip(ts, acc, strict=True):
            ax.annotate(f"{a:.1f}", (t, a), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    n = rows[0]["n_test"] if rows else 0
    _log2_T_axis(ax, rows)
    ax.set_ylabel(f"held-out accuracy (%), n = {n}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save(fig, path, 120)


def plot_accuracy_vs_cost(
    rows: Sequence[dict[str, Any]],
    path: str | Path,
    title: str,
    labels: Mapping[str, str],
    solid: Collection[str] = (),
    level: float = 98.0,
) -> Path:
    """Accuracy (%) against latency (``latency_ms``, left) and synaptic operations (``synops``,
    right), log x axes, one line per ``method`` of ``labels`` (in its order, coloured by
    position), points labelled with T; ``solid`` methods are drawn as solid lines with circles
    (the others dashed with squares); a dotted line marks ``level`` %."""
    fig = new_figure((12, 4.8))
    axes = fig.subplots(1, 2)
    for i, method in enumerate(labels):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["T"])
        if not rs:
            continue
        for ax, key in ((axes[0], "latency_ms"), (axes[1], "synops")):
            xs = [r[key] if key == "latency_ms" else r[key] / 1e6 for r in rs]
            ax.plot(xs, [100 * r["accuracy"] for r in rs], "o-" if method in solid else "s--", color=f"C{i}",
                    label=labels[method])
            for r, x in zip(rs, xs, strict=True):
                ax.annotate(f"T={r['T']}", (x, 100 * r["accuracy"]), fontsize=8, textcoords="offset points",
                            xytext=(4, -11))
    accs = [100 * r["accuracy"] for r in rows]
    for ax in axes:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(min(accs) - 1.0, max(level, max(accs)) + 0.7)
    axes[0].set_xlabel("latency per recording, batch 1 (ms, median; STC + network)")
    axes[1].set_xlabel("synaptic operations per recording (millions; effective ACs + MACs)")
    for ax in axes:
        ax.set_ylabel("accuracy (%)")
        ax.axhline(level, color="grey", lw=0.8, ls=":")
        ax.grid(True, alpha=0.3, which="both")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return save(fig, path, _DPI)
