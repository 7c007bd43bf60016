"""Evaluation: accuracy, confusion matrix and per-layer spike rates of a trained model.

:func:`evaluate` runs a model over in-memory frames; :func:`evaluate_checkpoint` does what
``eventsnn eval`` does: rebuild the model from a checkpoint, compress the recordings with the
training STC settings (optionally another ``T``), evaluate, and save ``eval.json``,
``spike_rates.json`` and ``confusion.png``.

The model runs through :func:`eventsnn.run.run_model`; spike rates are counted by the
:class:`~eventsnn.run.probes.SpikeCounts` probe on every spiking layer
(:func:`eventsnn.nn.spike_layers`): ``mean_spikes`` is the mean graded spike count per neuron
per time step (in ``[0, K]``), ``active_fraction`` the fraction of (neuron, step) pairs with
at least one spike.

Moved (the old names warn for one release): ``run_model`` -> :func:`evaluation_sums` (the
generic loop is :func:`eventsnn.run.run_model`); ``plot_confusion`` ->
:func:`eventsnn.viz.plot_confusion`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eventsnn._deprecation import deprecated_names
from eventsnn.datasets.slicing import recording_table
from eventsnn.errors import InvalidParameterError
from eventsnn.outputs import write_json
from eventsnn.run import forward
from eventsnn.run.probes import SpikeCounts
from eventsnn.train.checkpoint import load_model
from eventsnn.train.data import FrameSet, eval_frames
from eventsnn.train.distributed import resolve_device
from eventsnn.transforms import STC

__all__ = ["EvalResult", "evaluate", "evaluate_checkpoint", "evaluation_sums", "loss_function", "save_eval"]

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
        recording_accuracy: when the samples are windows of long recordings: the fraction of
            recordings whose majority vote over their windows is right (else ``None``).
        recordings: then also one row per recording
            (:func:`eventsnn.datasets.slicing.recording_table`).
    """

    accuracy: float
    loss: float
    n: int
    T: int
    confusion: np.ndarray
    spike_rates: dict[str, dict[str, float]]
    classes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)
    recording_accuracy: float | None = None
    recordings: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["confusion"] = self.confusion.tolist()
        d["per_class_accuracy"] = {
            c: (float(self.confusion[i, i] / self.confusion[i].sum()) if self.confusion[i].sum() else None)
            for i, c in enumerate(self.classes)
        }
        return d


def evaluation_sums(
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
    keep_predictions: bool = False,
) -> dict[str, Any]:
    """Run ``model`` (eval mode, reset after every batch: :func:`eventsnn.run.run_model`) over
    ``frames[indices]`` and add up what evaluation reports.

    Returns sums, not means (so several processes can add theirs): ``loss_sum``, ``correct``,
    ``n``, ``confusion`` (``[C, C]`` int64 tensor), with ``count_spikes`` ``spike_rates`` and
    with ``keep_predictions`` ``predictions`` (``[n]`` int64, in the order of ``indices``).
    """
    idx = torch.arange(len(frames)) if indices is None else torch.as_tensor(indices, dtype=torch.long)
    n_classes = int(n_classes or int(frames.y.max()) + 1)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    sums = {"loss_sum": 0.0, "correct": 0}
    predictions: list[torch.Tensor] = []

    def add(out: torch.Tensor, batch: forward.Batch) -> None:
        mean, y = out.float().mean(0).cpu(), batch.y
        assert y is not None
        if loss_fn is not None:
            sums["loss_sum"] += float(loss_fn(mean, y)) * len(y)
        pred = mean.argmax(1)
        if keep_predictions:
            predictions.append(pred)
        sums["correct"] += int((pred == y).sum())
        confusion.add_(torch.bincount(y * n_classes + pred, minlength=n_classes * n_classes).view(n_classes, n_classes))

    counter = SpikeCounts(model) if count_spikes else None
    with counter if counter is not None else contextlib.nullcontext():
        forward.run_model(model, frames, indices=idx, batch_size=batch_size, device=device, amp_dtype=amp_dtype,
                  reduce=add, progress=progress, desc=desc)
    result: dict[str, Any] = {**sums, "n": len(idx), "confusion": confusion}
    if keep_predictions:
        result["predictions"] = torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)
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
    recordings: Sequence[str] | None = None,
) -> EvalResult:
    """Accuracy, loss, confusion matrix and spike rates of ``model`` on ``frames``.

    Args:
        model: input ``[T, B, P, H, W]`` -> output ``[T, B, n_classes]`` (``model.readout``
            chooses the default loss, see :func:`loss_function`).
        frames: ``x [N, T, P, H, W]``, ``y [N]``; any ``T`` the model accepts.
        classes: class names (default ``"0".."C-1"`` with ``C`` from ``model.config``).
        recordings: when the samples are windows of long recordings, the id of the recording
            of each (``[N]``): the result then also has the accuracy per recording (majority
            vote over its windows) and a row per recording.
    """
    cfg = getattr(model, "config", {})
    n_classes = int(cfg.get("n_classes", len(classes) if classes else int(frames.y.max()) + 1))
    classes = [str(c) for c in classes] if classes is not None else [str(i) for i in range(n_classes)]
    if len(classes) != n_classes:
        raise InvalidParameterError(f"the model has {n_classes} outputs but {len(classes)} class names were given")
    if len(frames) == 0:
        raise InvalidParameterError("nothing to evaluate: 0 samples")
    fn = loss_function(loss, getattr(model, "readout", "logits"), n_classes)
    if recordings is not None and len(recordings) != len(frames):
        raise InvalidParameterError(f"{len(recordings)} recording ids for {len(frames)} samples")
    r = evaluation_sums(model, frames, None, batch_size, device, fn, n_classes, count_spikes=True, progress=progress,
                        keep_predictions=recordings is not None)
    result = EvalResult(
        accuracy=r["correct"] / r["n"],
        loss=r["loss_sum"] / r["n"],
        n=int(r["n"]),
        T=frames.T,
        confusion=r["confusion"].numpy(),
        spike_rates=r["spike_rates"],
        classes=classes,
    )
    if recordings is not None:
        result.recording_accuracy, result.recordings = recording_table(
            r["predictions"].numpy(), recordings, frames.y.numpy(), classes)
    return result


def save_eval(result: EvalResult, out_dir: str | Path, title: str = "") -> dict[str, Path]:
    """Write ``eval.json``, ``spike_rates.json`` and ``confusion.png`` to ``out_dir``."""
    from eventsnn.viz.confusion import plot_confusion

    out = Path(out_dir)
    paths = {"json": out / "eval.json", "spike_rates": out / "spike_rates.json", "confusion": out / "confusion.png"}
    write_json(paths["json"], result.to_dict())
    write_json(paths["spike_rates"], result.spike_rates)
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
    recordings = desc.pop("sample_recordings", None)
    result = evaluate(model, frames, classes, batch_size, dev, train_loss, progress, recordings)
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


def _plot_confusion() -> Callable[..., Path]:
    from eventsnn.viz.confusion import plot_confusion

    return plot_confusion


__getattr__ = deprecated_names(__name__, {
    "run_model": (lambda: evaluation_sums, "renamed evaluation_sums; the generic loop is eventsnn.run.run_model"),
    "plot_confusion": (_plot_confusion, "moved to eventsnn.viz.plot_confusion"),
})
