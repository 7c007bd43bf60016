"""Shared side-by-side training harness of ``bench_nmnist.py`` and ``bench_cifar10dvs_sim.py``.

One small, explicit training loop is used for *both* methods compared, so that the only
differences between them are the ones listed in their :class:`Recipe` (frames, network,
optimiser, loss, augmentation, pre-training). Frames are made once per recipe and kept in memory
as ``[N, T, P, H, W]`` float32 tensors; a batch is transposed to ``[T, B, P, H, W]`` for the
network, whose per-step outputs ``[T, B, classes]`` are averaged over T (SpikingJelly
convention) for the loss and the prediction.

Budget: "20 minutes on 2 CPU cores" is enforced as CPU time, ``budget_cpu_s = 2 x 1200 s`` by
default: a run (pre-training + training) starts no new epoch once the CPU time of this process
(all threads, :func:`time.process_time`) exceeds it. CPU time does not grow when other jobs share
the cores, so the budget means the same on a busy machine; wall time and load average are
recorded next to it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from eventsnn.nn import build_model
from eventsnn.outputs import write_csv, write_json
from eventsnn.run import Batch, run_model
from eventsnn.train.augment import FrameAugment

__all__ = ["Recipe", "earlier_rows", "row_summary", "tonic_frames", "train_and_evaluate", "write_results"]


@dataclass
class Recipe:
    """Everything one method does with the data.

    Attributes:
        name: label in tables and plots.
        preset: :func:`eventsnn.nn.build_model` preset; ``model`` its overrides.
        frames: ``"stc"`` (eventsnn STC with ``stc``: ratio, mode, decay, spatial_factor) or
            ``"tonic"`` (Tonic ``ToFrame(n_time_bins=T)``, then optional sum pooling by
            ``stc["spatial_factor"]``).
        optimizer: ``"adam"`` (L2 ``weight_decay``) or ``"adamw"`` (decoupled).
        loss: ``"ce"`` (cross-entropy with ``label_smoothing``) or ``"mse"`` (to one-hot rates).
        augment: :meth:`eventsnn.train.augment.FrameAugment.from_spec` string ("" = none).
        pretrain_epochs: epochs on the pre-training set (simulated recordings) before training.
        pretrain_limit: use only this many pre-training recordings (None = all).
    """

    name: str
    preset: str
    model: dict[str, Any] = field(default_factory=dict)
    frames: str = "stc"
    stc: dict[str, Any] = field(default_factory=dict)
    epochs: int = 15
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    loss: str = "ce"
    label_smoothing: float = 0.0
    augment: str = ""
    pretrain_epochs: int = 0
    pretrain_limit: int | None = None


def tonic_frames(recordings: Sequence[np.ndarray], sensor_size, T: int, spatial_factor: int = 1) -> torch.Tensor:
    """Tonic 1.7 ``ToFrame(sensor_size, n_time_bins=T)`` frames ``[N, T, P, H, W]`` (float32), as the
    PLIF recipe makes them; ``spatial_factor > 1`` sum-pools them afterwards (f x f blocks)."""
    import tonic

    to_frame = tonic.transforms.ToFrame(sensor_size=tuple(sensor_size), n_time_bins=T)
    dtype = [("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)]
    out = []
    for r in recordings:
        ev = np.empty(len(r), dtype=dtype)
        for k in ("x", "y", "t", "p"):
            ev[k] = r[k]
        fr = torch.from_numpy(to_frame(ev).astype(np.float32))  # [T, P, H, W]
        if spatial_factor > 1:
            h, w = fr.shape[-2:]
            f = spatial_factor
            fr = F.pad(fr, (0, -w % f, 0, -h % f))
            fr = F.avg_pool2d(fr, f) * (f * f)
        out.append(fr)
    return torch.stack(out)


def _loss_fn(recipe: Recipe, n_classes: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if recipe.loss == "mse":
        return lambda out, y: F.mse_loss(out, F.one_hot(y, n_classes).to(out.dtype))
    return lambda out, y: F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 100) -> float:
    """Accuracy of ``model`` on frames ``x [N, T, P, H, W]`` with labels ``y [N]``."""
    outputs = run_model(model, x, batch_size=batch_size)  # [T, N, classes]
    return int((outputs.mean(0).argmax(1) == y).sum()) / max(1, len(x))


def _epochs(model, recipe: Recipe, x, y, epochs: int, n_classes: int, seed: int, t_start: float,
            c_start: float, budget_cpu_s: float, desc: str) -> list[dict[str, Any]]:
    """Train for ``epochs`` epochs with a cosine learning-rate schedule; if the first epoch shows
    that they do not fit in what is left of the CPU budget, the run is shortened to the epochs
    that fit and the cosine schedule is fitted to that number (so it still anneals to 0)."""
    params = list(model.parameters())
    if recipe.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    loss_fn = _loss_fn(recipe, n_classes)
    aug = FrameAugment.from_spec(recipe.augment)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, Any]] = []
    c_phase = time.process_time()
    left = budget_cpu_s - (c_phase - c_start)
    ep = 0
    while ep < epochs and left > 0:
        lr = 0.5 * recipe.lr * (1 + math.cos(math.pi * ep / epochs))  # = CosineAnnealingLR(T_max=epochs)
        for g in opt.param_groups:
            g["lr"] = lr
        perm = torch.randperm(len(x), generator=gen)

        def train_step(out: torch.Tensor, batch: Batch) -> tuple[float, int]:
            mean = out.mean(0)
            loss = loss_fn(mean, batch.y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss) * batch.size, int((mean.detach().argmax(1) == batch.y).sum())

        sums = run_model(model, (x, y), indices=perm, batch_size=recipe.batch_size, train=True,
                         transform=(lambda xb: aug(xb, gen)) if aug.active else None, reduce=train_step,
                         progress=None, desc=f"{desc} epoch {ep + 1}/{epochs}")
        loss_sum, correct = sum(s[0] for s in sums), sum(s[1] for s in sums)
        ep += 1
        history.append({"phase": desc, "epoch": ep, "lr": lr, "train_loss": loss_sum / len(x),
                        "train_acc": correct / len(x), "elapsed_s": round(time.perf_counter() - t_start, 1),
                        "cpu_s": round(time.process_time() - c_start, 1)})
        if ep == 1 and epochs > 1:
            per_epoch = time.process_time() - c_phase
            fit = max(1, int(0.95 * left / per_epoch))
            if fit < epochs:
                tqdm.write(f"{desc}: {epochs} epochs do not fit the CPU budget "
                           f"({per_epoch:.0f} CPU-s each, {left:.0f} left): running {fit}")
                epochs = fit
        if time.process_time() - c_start > budget_cpu_s:
            break
    return history


def train_and_evaluate(
    recipe: Recipe,
    T: int,
    train_xy: tuple[torch.Tensor, torch.Tensor],
    test_xy: tuple[torch.Tensor, torch.Tensor],
    pretrain_xy: tuple[torch.Tensor, torch.Tensor] | None = None,
    budget_cpu_s: float = 2400.0,
    seed: int = 0,
    threads: int = 2,
    frames_s: float = 0.0,
) -> dict[str, Any]:
    """Build ``recipe``'s model, (pre-)train it within ``budget_cpu_s`` and evaluate on ``test_xy``.

    All frame tensors are ``[N, T, P, H, W]``; labels ``[N]`` int64. Returns a JSON-able row.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y = train_xy
    n_classes = int(max(int(y.max()), int(test_xy[1].max())) + 1)
    model = build_model(recipe.preset, **recipe.model)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    history: list[dict[str, Any]] = []
    pre_acc = None
    if recipe.pretrain_epochs and pretrain_xy is not None:
        history += _epochs(model, recipe, *pretrain_xy, recipe.pretrain_epochs, n_classes, seed + 1,
                           t0, c0, budget_cpu_s, f"{recipe.name} T={T} pretrain")
        pre_acc = evaluate(model, *test_xy)
    history += _epochs(model, recipe, x, y, recipe.epochs, n_classes, seed, t0, c0, budget_cpu_s,
                       f"{recipe.name} T={T}")
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    acc = evaluate(model, *test_xy)
    n_train_epochs = sum(1 for h in history if not h["phase"].endswith("pretrain"))
    n_pre_epochs = len(history) - n_train_epochs
    return {
        "method": recipe.name,
        "T": T,
        "accuracy": acc,
        "correct": round(acc * len(test_xy[1])),
        "n_test": len(test_xy[1]),
        "n_train": len(y),
        "n_pretrain": 0 if pretrain_xy is None or not recipe.pretrain_epochs else len(pretrain_xy[1]),
        "accuracy_after_pretrain": pre_acc,
        "epochs_done": n_train_epochs,
        "pretrain_epochs_done": n_pre_epochs,
        "epochs_planned": recipe.epochs,
        "budget_hit": n_train_epochs < recipe.epochs,
        "train_wall_s": round(train_wall, 1),
        "train_cpu_s": round(train_cpu, 1),
        "frames_s": round(frames_s, 1),
        "load_avg_start": round(load0, 2),
        "load_avg_end": round(os.getloadavg()[0], 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_train_acc": history[-1]["train_acc"] if history else None,
        "recipe": asdict(recipe),
        "history": history,
    }


def row_summary(name: str, row: dict[str, Any]) -> str:
    """One line for a finished run: accuracy (correct/total), wall and CPU time, epochs, load."""
    return (f"{name} T={row['T']}: {100 * row['accuracy']:.2f}% ({row['correct']}/{row['n_test']}) "
            f"in {row['train_wall_s']:.0f} s wall, {row['train_cpu_s']:.0f} CPU-s, "
            f"{row['epochs_done']}/{row['epochs_planned']} epochs, load {row['load_avg_end']:.1f}")


def write_results(rows: list[dict[str, Any]], stem: Path, meta: dict[str, Any]) -> None:
    """``<stem>.json`` (meta + every row with its history) and ``<stem>.csv`` (one line per run),
    each written atomically."""
    meta = {**meta, "machine": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads()}
    write_json(stem.with_suffix(".json"), {"meta": meta, "results": rows}, indent=1)
    keys = ["method", "T", "accuracy", "correct", "n_test", "n_train", "n_pretrain", "epochs_done",
            "epochs_planned", "budget_hit", "train_wall_s", "train_cpu_s", "frames_s",
            "load_avg_start", "load_avg_end", "parameters"]
    write_csv(stem.with_suffix(".csv"), rows, keys)


def earlier_rows(stem: Path, expected: dict[str, Any], redone: Callable[[dict[str, Any]], bool],
                 defaults: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of an earlier :func:`write_results` file at ``stem`` that this run does not redo.

    For ``--merge``: ``expected`` maps meta keys (dotted for nested ones, ``"split.seed"``) to
    this run's values, and a file measured otherwise raises ``SystemExit``; ``defaults`` give the
    value of a key older files lack. No file: no rows.
    """
    path = stem.with_suffix(".json")
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    for key, want in expected.items():
        got: Any = doc["meta"]
        for part in key.split("."):
            got = got.get(part, (defaults or {}).get(key)) if isinstance(got, dict) else None
        if got != want:
            raise SystemExit(f"--merge: {path} has {key} = {got!r}, this run {want!r}")
    return [r for r in doc["results"] if not redone(r)]


def table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: one line per (method, T)."""
    lines = [f"{'method':<12} {'T':>2} {'acc %':>7} {'correct':>9} {'epochs':>7} {'wall s':>7} {'cpu s':>7} {'load':>5}"]
    for r in rows:
        lines.append(
            f"{r['method']:<12} {r['T']:>2} {100 * r['accuracy']:>7.2f} {r['correct']:>4}/{r['n_test']:<4} "
            f"{r['epochs_done']:>3}/{r['epochs_planned']:<3} {r['train_wall_s']:>7.0f} {r['train_cpu_s']:>7.0f} "
            f"{r['load_avg_end']:>5.1f}"
        )
    return "\n".join(lines)

