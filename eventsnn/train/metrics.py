"""Per-epoch training metrics written to the run folder: CSV, JSON and a PNG of the curves.

One row per epoch (all values already reduced over processes)::

    epoch (1-based), train_loss, train_acc, val_loss, val_acc, lr, epoch_time_s,
    train_samples, val_samples, cpu_s (CPU-seconds of the whole run so far, both stages)

Files: ``metrics.csv``, ``metrics.json`` (``{"history": [...], "best": {...}, "config": {...}}``)
and ``curves.png`` (loss and accuracy against epoch, :func:`eventsnn.viz.plot_curves`, titled
with the run folder, dataset and T: :func:`run_title`), each replaced atomically
(:mod:`eventsnn.outputs`).

Moved (the old name warns for one release): ``plot_curves`` -> :func:`eventsnn.viz.plot_curves`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eventsnn._deprecation import deprecated_names
from eventsnn.outputs import write_csv, write_json

__all__ = ["COLUMNS", "write_metrics", "read_metrics_csv", "run_title"]

COLUMNS = (
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s",
    "train_samples", "val_samples", "cpu_s",
)


def run_title(out_dir: str | Path, config: dict[str, Any] | None) -> str:
    """What a run's pictures show: ``"run <folder>: <dataset>, T=<T> (<preset> model)"``, from
    the configuration training saves (``config.json``; a compressed file stands for its name)."""
    cfg = config or {}
    data = cfg.get("data") or {}
    dataset = data.get("dataset") or (Path(str(data["data"])).name if data.get("data") else None)
    T = (cfg.get("stc") or {}).get("T")
    preset = (cfg.get("model") or {}).get("preset")
    what = ", ".join(p for p in (dataset, f"T={T}" if T is not None else None) if p)
    title = f"run {Path(out_dir).resolve().name}" + (f": {what}" if what else "")
    return title + (f" ({preset} model)" if preset else "")


def write_metrics(
    out_dir: str | Path,
    history: Sequence[dict[str, Any]],
    best: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    plot: bool = True,
    title: str | None = None,
) -> dict[str, Path]:
    """Write ``metrics.csv``, ``metrics.json`` and (``plot``) ``curves.png``; returns their paths.

    ``title``: of ``curves.png`` (default :func:`run_title` of ``out_dir`` and ``config``).
    """
    out = Path(out_dir)
    paths = {"csv": write_csv(out / "metrics.csv", history, COLUMNS),
             "json": write_json(out / "metrics.json", {"history": list(history), "best": best, "config": config})}
    if plot and history:
        from eventsnn.viz.training import plot_curves

        paths["png"] = plot_curves(history, out / "curves.png", run_title(out, config) if title is None else title)
    return paths


def read_metrics_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of a ``metrics.csv`` as floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _plot_curves() -> Callable[..., Path]:
    from eventsnn.viz.training import plot_curves

    return plot_curves


__getattr__ = deprecated_names(__name__, {"plot_curves": (_plot_curves, "moved to eventsnn.viz.plot_curves")})
