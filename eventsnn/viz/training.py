"""Training curves: loss and accuracy of train and validation against epoch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsnn.viz.figure import new_figure, save

__all__ = ["plot_curves"]


def plot_curves(history: Sequence[dict[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Loss (left) and accuracy in % (right) of train and validation against epoch, as a PNG.

    ``history``: one dict per epoch with ``epoch``, ``train_loss``, ``val_loss``, ``train_acc``,
    ``val_acc`` (accuracies as fractions); ``title``: what the curves show (run, dataset, T).
    """
    ep = [r["epoch"] for r in history]
    fig = new_figure((9, 3.6))
    ax_l, ax_a = fig.subplots(1, 2)
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
    return save(fig, path, 110)
