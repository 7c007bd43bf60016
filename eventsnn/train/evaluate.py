"""Evaluation: accuracy, confusion matrix and per-layer spike rates of a trained model.

:func:`evaluate` runs a model over in-memory frames; :func:`evaluate_checkpoint` does what
``eventsnn eval`` does: rebuild the model from a checkpoint, compress the recordings with the
training STC settings (optionally another ``T``), evaluate, and save ``eval.json``,
``spike_rates.json`` and ``confusion.png``.

Spike rates are measured with forward hooks on every spiking layer
(:func:`eventsnn.nn.spike_layers`): ``mean_spikes`` is the mean graded spike count per neuron
per time step (in ``[0, K]``), ``active_fraction`` the fraction of (neuron, step) pairs with
at least one spike.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional as sj_functional
from torch import nn
from tqdm.auto import tqdm

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.introspect import spike_layers
from eventsnn.train.checkpoint import load_model
from eventsnn.train.data import FrameSet, eval_frames
from eventsnn.train.distributed import resolve_device
from eventsnn.transforms import STC

__all__ = ["EvalResult", "evaluate", "evaluate_checkpoint", "run_model", "loss_function", "plot_confusion", "save_eval"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def loss_function(kind: str, readout: str, n_classes: int, label_smoothing: float = 0.0) -> LossFn:
    """Loss on the time-averaged output ``[B, n_classes]``.

    ``"auto"``: cross-entropy for ``readout="logits"``, MSE to one-hot targets for ``"rate"``
    (Fang et al.'s recipe for voting-layer spike rates). ``label_smoothing`` applies to
    cross-entropy.
    """
    if kind == "auto":
        kind = "mse" if readout == "rate" else "ce"
    if kind == "ce":
        if label_smoothing:
            return lambda out, y: F.cross_entropy(out, y, label_smoothing=float(label_smoothing))
        return F.cross_entropy
    if kind == "mse":
        return lambda out, y: F.mse_loss(out, F.one_hot(y, n_classes).to(out.dtype))
    raise InvalidParameterError(f"loss must be auto, ce or mse, got {kind!r}")


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes:
        accuracy: fraction correct in ``[0, 1]`` (prediction = argmax of the mean over T).
        loss: mean loss per sample.
        n: samples evaluated.
        T: time steps of the frames.
        confusion: ``[C, C]`` counts, rows = true class, columns = predicted class.
        spike_rates: layer name -> ``{"mean_spikes", "active_fraction", "neurons"}``.
        classes: class names.
        extra: free-form description (checkpoint, dataset, split, ...).
    """

    accuracy: float
    loss: float
    n: int
    T: int
    confusion: np.ndarray
    spike_rates: dict[str, dict[str, float]]
    classes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["confusion"] = self.confusion.tolist()
        d["per_class_accuracy"] = {
            c: (float(self.confusion[i, i] / self.confusion[i].sum()) if self.confusion[i].sum() else None)
            for i, c in enumerate(self.classes)
        }
        return d


class _SpikeCounter:
    """Forward hooks summing the outputs of the spiking layers."""

    def __init__(self, model: nn.Module) -> None:
        self.stats: dict[str, list[float]] = {}
        self.handles = []
        for name, m in spike_layers(model):
            self.stats[name] = [0.0, 0.0, 0.0, 0.0]  # spikes, nonzero, elements, neurons/sample
            self.handles.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            s = self.stats[name]
            o = out.detach()
            s[0] += float(o.float().sum())
            s[1] += float((o != 0).sum())
            s[2] += float(o.numel())
            s[3] = float(o[0, 0].numel()) if o.ndim >= 3 else float(o[0].numel())

        return hook

    def rates(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "mean_spikes": s[0] / s[2] if s[2] else 0.0,
                "active_fraction": s[1] / s[2] if s[2] else 0.0,
                "neurons": int(s[3]),
            }
            for name, s in self.stats.items()
        }

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def run_model(
    model: nn.Module,
    frames: FrameSet,
    indices: Sequence[int] | torch.Tensor | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    loss_fn: LossFn | None = None,
    n_classes: int | None = None,
    amp_dtype: torch.dtype | None = None,
    count_spikes: bool = False,
    progress: bool = False,
    desc: str = "eval",
) -> dict[str, Any]:
    """Run ``model`` (eval mode, reset after every batch) over ``frames[indices]``.

    Returns sums, not means (so several processes can add theirs): ``loss_sum``, ``correct``,
    ``n``, ``confusion`` (``[C, C]`` int64 tensor) and, with ``count_spikes``, ``spike_rates``.
    """
    device = torch.device(device)
    idx = torch.arange(len(frames)) if indices is None else torch.as_tensor(indices, dtype=torch.long)
    n_classes = int(n_classes or int(frames.y.max()) + 1)
    was_training = model.training
    model.eval()
    counter = _SpikeCounter(model) if count_spikes else None
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    loss_sum, correct = 0.0, 0
    try:
        for s in tqdm(range(0, len(idx), batch_size), desc=desc, disable=not progress, leave=False, unit="batch"):
            b = idx[s : s + batch_size]
            x, y = frames[b]
            x = x.to(device, non_blocking=True).transpose(0, 1)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                out = model(x)
            mean = out.float().mean(0).cpu()
            sj_functional.reset_net(model)
            if loss_fn is not None:
                loss_sum += float(loss_fn(mean, y)) * len(y)
            pred = mean.argmax(1)
            correct += int((pred == y).sum())
            confusion += torch.bincount(y * n_classes + pred, minlength=n_classes * n_classes).view(n_classes, n_classes)
    finally:
        if counter is not None:
            counter.remove()
        model.train(was_training)
    result: dict[str, Any] = {"loss_sum": loss_sum, "correct": correct, "n": len(idx), "confusion": confusion}
    if counter is not None:
        result["spike_rates"] = counter.rates()
    return result


def evaluate(
    model: nn.Module,
    frames: FrameSet,
    classes: Sequence[str] | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    loss: str = "auto",
    progress: bool = False,
) -> EvalResult:
    """Accuracy, loss, confusion matrix and spike rates of ``model`` on ``frames``.

    Args:
        model: input ``[T, B, P, H, W]`` -> output ``[T, B, n_classes]`` (``model.readout``
            chooses the default loss, see :func:`loss_function`).
        frames: ``x [N, T, P, H, W]``, ``y [N]``; any ``T`` the model accepts.
        classes: class names (default ``"0".."C-1"`` with ``C`` from ``model.config``).
    """
    cfg = getattr(model, "config", {})
    n_classes = int(cfg.get("n_classes", len(classes) if classes else int(frames.y.max()) + 1))
    classes = [str(c) for c in classes] if classes is not None else [str(i) for i in range(n_classes)]
    if len(classes) != n_classes:
        raise InvalidParameterError(f"the model has {n_classes} outputs but {len(classes)} class names were given")
    if len(frames) == 0:
        raise InvalidParameterError("nothing to evaluate: 0 samples")
    fn = loss_function(loss, getattr(model, "readout", "logits"), n_classes)
    r = run_model(model, frames, None, batch_size, device, fn, n_classes, count_spikes=True, progress=progress)
    return EvalResult(
        accuracy=r["correct"] / r["n"],
        loss=r["loss_sum"] / r["n"],
        n=int(r["n"]),
        T=frames.T,
        confusion=r["confusion"].numpy(),
        spike_rates=r["spike_rates"],
        classes=classes,
    )


def plot_confusion(confusion: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (colour) with counts (text) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = np.asarray(confusion)
    rows = c.sum(1, keepdims=True)
    norm = np.divide(c, rows, out=np.zeros_like(c, dtype=float), where=rows > 0)
    n = len(classes)
    size = max(4.0, 0.45 * n + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=45 if max(len(s) for s in classes) > 2 else 0, ha="right" if max(len(s) for s in classes) > 2 else "center")
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
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def save_eval(result: EvalResult, out_dir: str | Path, title: str = "") -> dict[str, Path]:
    """Write ``eval.json``, ``spike_rates.json`` and ``confusion.png`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "eval.json", "spike_rates": out / "spike_rates.json", "confusion": out / "confusion.png"}
    for key, doc in (("json", result.to_dict()), ("spike_rates", result.spike_rates)):
        tmp = paths[key].with_name(f"{paths[key].name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, paths[key])
    plot_confusion(result.confusion, result.classes, paths["confusion"], title)
    return paths


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: str | None = None,
    root: str | Path | None = None,
    data: str | Path | None = None,
    split: str = "test",
    T: int | None = None,
    limit: int | None = None,
    batch_size: int = 64,
    device: str = "auto",
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> EvalResult:
    """Evaluate a checkpoint on a dataset split, as ``eventsnn eval`` does.

    Args:
        checkpoint: a ``.pt`` written by training (``best.pt`` / ``last.pt``).
        dataset, root: registered dataset and its folder (default: those of the training run).
        data: a compressed HDF5 file instead (only at its own ``T``).
        split: ``"test"``, ``"train"``, ... or ``"val"`` = the validation recordings of the
            training run (its seeded hold-out, rebuilt from the indices in the checkpoint).
        T: time steps (default: the training ``T``); other STC settings stay as trained.
        limit: evaluate on ``limit`` samples of the split only.
        out_dir: where to save the results (None: do not save).

    Raises:
        CheckpointError: missing/corrupt checkpoint. DatasetNotFoundError: split not on disk.
    """
    dev = resolve_device(device)
    model, info = load_model(checkpoint, dev)
    trained = STC.from_dict(info["config"]["stc"])
    if T is not None and int(T) < 1:
        raise InvalidParameterError(f"T must be >= 1, got {T}")
    stc = trained if T is None else trained.with_T(int(T))
    frames, classes, desc = eval_frames(
        info["config"]["data"], stc, dataset, root, data, split, limit, progress
    )
    train_loss = info["config"].get("train", {}).get("loss", "auto")
    result = evaluate(model, frames, classes, batch_size, dev, train_loss, progress)
    result.extra = {
        "checkpoint": str(checkpoint),
        "checkpoint_epoch": int(info["epoch"]) + 1,
        "trained_T": trained.T,
        **desc,
    }
    if out_dir is not None:
        name = desc.get("dataset") or Path(str(desc.get("data", "data"))).stem
        save_eval(result, out_dir, f"{name} {split}, T={result.T}: {100 * result.accuracy:.2f}% of {result.n}")
    return result
