"""Per-epoch training metrics written to the run folder: CSV, JSON and a PNG of the curves.

One row per epoch (all values already reduced over processes)::

    epoch (1-based), train_loss, train_acc, val_loss, val_acc, lr, epoch_time_s,
    train_samples, val_samples

Files: ``metrics.csv``, ``metrics.json`` (``{"history": [...], "best": {...}, "config": {...}}``)
and ``curves.png`` (loss and accuracy against epoch), each replaced atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "write_metrics", "plot_curves", "read_metrics_csv"]

COLUMNS = (
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s",
    "train_samples", "val_samples",
)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_metrics(
    out_dir: str | Path,
    history: Sequence[dict[str, Any]],
    best: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    plot: bool = True,
) -> dict[str, Path]:
    """Write ``metrics.csv``, ``metrics.json`` and (``plot``) ``curves.png``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow(row)
    paths = {"csv": out / "metrics.csv", "json": out / "metrics.json"}
    _atomic_text(paths["csv"], buf.getvalue())
    doc = {"history": list(history), "best": best, "config": config}
    _atomic_text(paths["json"], json.dumps(doc, indent=2))
    if plot and history:
        paths["png"] = plot_curves(history, out / "curves.png")
    return paths


def read_metrics_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows of a ``metrics.csv`` as floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Loss (left) and accuracy in % (right) of train and validation against epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in history]
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax_l.plot(ep, [r["train_loss"] for r in history], "o-", label="train")
    ax_l.plot(ep, [r["val_loss"] for r in history], "s-", label="validation")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("loss")
    ax_l.set_title("loss")
    ax_l.legend()
    ax_a.plot(ep, [100 * r["train_acc"] for r in history], "o-", label="train")
    ax_a.plot(ep, [100 * r["val_acc"] for r in history], "s-", label="validation")
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_ylim(0, 100)
    ax_a.set_title("accuracy")
    ax_a.legend(loc="lower right")
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
