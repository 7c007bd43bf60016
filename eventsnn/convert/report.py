"""Convert an ANN for several T, evaluate, and write results (JSON, CSV, accuracy-vs-T PNG).

Used by ``eventsnn convert`` and ``benchmarks/bench_convert.py``. The picture is
:func:`eventsnn.viz.plot_accuracy_vs_T` (``plot_accuracy_vs_T`` here is its old place: warns for
one release).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from eventsnn._deprecation import deprecated_names
from eventsnn.convert.converter import convert, evaluate_ann, evaluate_snn, save_snn
from eventsnn.convert.images import random_subset  # noqa: F401 - its earlier home
from eventsnn.outputs import write_csv, write_json

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


def rounded(rows: Sequence[dict], digits: int = 3) -> list[dict]:
    """``rows`` with every float rounded to ``digits`` (for CSV tables)."""
    return [{k: (round(v, digits) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]


def write_results(results: dict, out_dir: str | Path, stem: str = "results",
                  title: str = "ANN-to-SNN conversion") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.csv`` and ``<stem>.png`` (accuracy vs T) into ``out_dir``,
    each atomically."""
    from eventsnn.viz.conversion import plot_accuracy_vs_T

    out_dir = Path(out_dir)
    paths = {"json": write_json(out_dir / f"{stem}.json", results, indent=1),
             "csv": write_csv(out_dir / f"{stem}.csv", rounded(results["rows"]), CSV_FIELDS)}
    paths["png"] = plot_accuracy_vs_T(results["rows"], results["ann_acc"], out_dir / f"{stem}.png", title)
    return paths


def _plot_accuracy_vs_T() -> Callable[..., Path]:
    from eventsnn.viz.conversion import plot_accuracy_vs_T

    return plot_accuracy_vs_T


__getattr__ = deprecated_names(__name__, {
    "plot_accuracy_vs_T": (_plot_accuracy_vs_T, "moved to eventsnn.viz.plot_accuracy_vs_T"),
})
