"""Convert an ANN for several T, evaluate, and write results (JSON, CSV, accuracy-vs-T PNG).

Used by ``eventsnn convert`` and ``benchmarks/bench_convert.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from eventsnn.convert.converter import convert, evaluate_ann, evaluate_snn, save_snn
from eventsnn.convert.images import random_subset  # noqa: F401 - its earlier home
from eventsnn.outputs import save_figure, write_csv, write_json

CSV_FIELDS = ("method", "T", "acc", "ann_acc", "gap", "seconds")


RESULT_FILES = ("results.json", "results.csv", "results.png")
"""What :func:`write_results` writes (default stem)."""


def snn_file_name(residual: str, signed: bool, T: int) -> str:
    """``snn_<residual>[_signed]_T<T>.pt``: the file :func:`convert_and_evaluate` saves an SNN as."""
    return f"snn_{residual}{'_signed' if signed else ''}_T{T}.pt"


def conversion_outputs(Ts: Sequence[int], residuals: Sequence[str], signed: bool) -> list[str]:
    """Names of every file a conversion run writes into its folder (SNNs, then results)."""
    return [snn_file_name(r, signed, int(T)) for r in residuals for T in sorted(set(Ts))] + list(RESULT_FILES)


def convert_and_evaluate(ann: nn.Module, calib_x: torch.Tensor, x_test: torch.Tensor,
                         y_test: torch.Tensor, Ts: Sequence[int],
                         residuals: Sequence[str] = ("standard",), *, v_init: str = "half",
                         threshold: str = "auto", percentile: float = 99.99, tune: bool = True,
                         signed: bool = False, objective: str = "output",
                         bias_correction: bool = False,
                         out_dir: str | Path | None = None, mean=None, std=None,
                         progress: bool = True) -> dict:
    """Convert ``ann`` once per (residual option, T), evaluate each SNN at its T on the test set.

    Returns ``{"ann_acc", "rows": [{"method", "T", "acc", "ann_acc", "gap", "seconds"}],
    "curves": {method: {T: accuracy after 1..T steps}}, "files": [...]}`` (accuracies in %).
    With ``out_dir``, each SNN is saved as ``snn_<residual>[_signed]_T<T>.pt``.
    """
    ann_acc = 100.0 * evaluate_ann(ann, x_test, y_test)
    rows, curves, files = [], {}, []
    jobs = [(r, int(T)) for r in residuals for T in Ts]
    bar = tqdm(jobs, desc="convert", disable=not progress)
    for residual, T in bar:
        bar.set_postfix(residual=residual, T=T)
        t0 = time.perf_counter()
        snn = convert(ann, calib_x, T, v_init=v_init, threshold=threshold,
                      percentile=percentile, residual=residual, signed=signed, tune=tune,
                      objective=objective, bias_correction=bias_correction,
                      mean=mean, std=std)
        acc = 100.0 * evaluate_snn(snn, x_test, y_test, T)
        method = (f"eventsnn-{residual}" + ("-signed" if signed else "")
                  + ("-bias" if bias_correction and tune else "") + ("" if tune else "-untuned"))
        rows.append({"method": method, "T": T, "acc": float(acc[-1]), "ann_acc": ann_acc,
                     "gap": ann_acc - float(acc[-1]), "seconds": time.perf_counter() - t0})
        curves.setdefault(method, {})[T] = [float(a) for a in acc]
        if out_dir is not None:
            files.append(str(save_snn(snn, Path(out_dir) / snn_file_name(residual, signed, T))))
    return {"ann_acc": ann_acc, "rows": rows, "curves": curves, "files": files}


def write_results(results: dict, out_dir: str | Path, stem: str = "results",
                  title: str = "ANN-to-SNN conversion") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.csv`` and ``<stem>.png`` (accuracy vs T) into ``out_dir``."""
    out_dir = Path(out_dir)
    paths = {k: out_dir / f"{stem}.{k}" for k in ("json", "csv", "png")}
    write_json(paths["json"], results, indent=1)
    write_csv(paths["csv"], ({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                             for r in results["rows"]), CSV_FIELDS)
    plot_accuracy_vs_T(results["rows"], results["ann_acc"], paths["png"], title)
    return paths


def plot_accuracy_vs_T(rows: Sequence[dict], ann_acc: float | dict[str, float], path: str | Path,
                       title: str = "") -> Path:
    """Accuracy (%) vs T (log2 axis), one line per method, dashed line(s) at the ANN accuracy.

    ``ann_acc`` is one number, or ``{label: accuracy}`` for several ANNs (rows then carry an
    ``"ann"`` key naming theirs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    anns = ann_acc if isinstance(ann_acc, dict) else {"ANN": ann_acc}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, acc) in enumerate(anns.items()):
        ax.axhline(acc, ls="--", lw=1.2, color=colors[i % len(colors)] if len(anns) > 1 else "k",
                   label=f"{label} ({acc:.1f}%)" if label.startswith("ANN") else f"ANN {label} ({acc:.1f}%)")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for method in methods:
        pts = sorted((r["T"], r["acc"]) for r in rows if r["method"] == method)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=4, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
