"""The training run: data -> model -> epochs of Adam + cosine schedule -> checkpoints and metrics.

:func:`train` is the Python entry point behind ``eventsnn train``::

    from eventsnn.train import TrainConfig, train
    result = train(TrainConfig(dataset="nmnist", T=2, epochs=15, out="runs/nmnist-T2",
                               model={"n_thresholds": 4, "scb": "all"}))
    result.best_val_acc, result.history[-1], result.best_checkpoint

Each epoch: shuffled mini-batches (order from ``seed + epoch``, as ``DistributedSampler`` does,
so it does not depend on how the run got there), forward over ``[T, B, P, H, W]``, loss on the
mean over T of the outputs, backward, optimiser step, ``reset_net``; then validation, a
scheduler step, and (rank 0) ``last.pt`` + ``best.pt`` checkpoints, ``metrics.csv/json`` and
``curves.png`` in the run folder. ``resume=True`` restores model, optimiser, scheduler, scaler,
RNG states and history from ``last.pt`` and continues: the result equals an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from spikingjelly.activation_based import functional as sj_functional
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
from tqdm.auto import tqdm

from eventsnn.datasets.compressed import read_attributes
from eventsnn.errors import CheckpointError, InvalidParameterError
from eventsnn.nn.presets import build_model, default_config, input_shape
from eventsnn.train.augment import FrameAugment
from eventsnn.train.checkpoint import get_rng_state, load_checkpoint, save_checkpoint, set_rng_state
from eventsnn.train.config import TrainConfig, as_config, resolve_config
from eventsnn.train.data import DataBundle, FrameSet, prepare_data
from eventsnn.train.distributed import (
    DistContext,
    all_reduce_sum,
    init_distributed,
    unwrap,
    wrap_model,
)
from eventsnn.train.evaluate import loss_function, run_model
from eventsnn.train.metrics import write_metrics
from eventsnn.train.regularize import SynOpsPenalty

__all__ = ["TrainResult", "train", "seed_everything", "model_config_for"]

#: Fields that may change between a run and its ``--resume`` (they do not change the result).
_RESUME_FREE = ("out", "resume", "device", "workers", "progress", "threads")


@dataclass
class TrainResult:
    """What a finished :func:`train` call returns.

    Attributes:
        out_dir: the run folder.
        history: per-epoch metrics (see :mod:`eventsnn.train.metrics`).
        best_epoch: 1-based epoch of the best validation accuracy.
        best_val_acc: that accuracy, in ``[0, 1]``.
        last_checkpoint, best_checkpoint: ``last.pt`` and ``best.pt``.
        config: the resolved training config.
        model_config: ``model.config`` (rebuild with ``build_model(**model_config)``).
        data_info: what was trained/validated on (``DataBundle.info``).
        model: the trained model (final epoch weights, unwrapped, eval mode).
        elapsed_s: wall time of this call.
    """

    out_dir: Path
    history: list[dict[str, Any]]
    best_epoch: int
    best_val_acc: float
    last_checkpoint: Path
    best_checkpoint: Path
    config: TrainConfig
    model_config: dict[str, Any]
    data_info: dict[str, Any]
    model: nn.Module | None = field(default=None, repr=False)
    elapsed_s: float = 0.0

    @property
    def final(self) -> dict[str, Any]:
        """Metrics of the last epoch."""
        return self.history[-1]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def model_config_for(cfg: TrainConfig, data: DataBundle, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model config for ``data``: preset (or ``base``) + ``cfg.model`` + input/classes of the data."""
    if "preset" in cfg.model:
        raise InvalidParameterError("choose the preset with TrainConfig.preset, not model['preset']")
    config = dict(base) if base is not None else default_config(str(cfg.preset))
    config.update(cfg.model)
    w, h, _ = data.sensor_size
    config.update(
        sensor_size=[int(h), int(w)],
        spatial_factor=int(data.stc.spatial_factor),
        in_channels=int(data.train.x.shape[2]),
        n_classes=len(data.classes),
    )
    if config.get("arch") == "plif" and "fc_vote" not in cfg.model:
        config["fc_vote"] = config["n_classes"] * int(config["voting_size"])
    expect = tuple(data.train.x.shape[2:])
    if input_shape(config) != expect:
        raise InvalidParameterError(
            f"model input {input_shape(config)} does not match the frames {expect}"
        )
    return config


def _set_threads(cfg: TrainConfig, ctx: DistContext) -> None:
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    elif ctx.is_distributed and ctx.device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, ctx.local_world_size)))


def _log(ctx: DistContext, msg: str) -> None:
    if ctx.is_main:
        tqdm.write(msg)


def _check_resume(ckpt: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    saved = dict(ckpt["config"].get("train", {}))
    now = cfg.to_dict()
    diff = sorted(
        k for k in now if k not in _RESUME_FREE and k in saved and json.dumps(saved[k]) != json.dumps(now[k])
    )
    if diff:
        detail = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in diff)
        raise CheckpointError(f"{path}: cannot resume, settings differ from the run that wrote it ({detail})")


def _init_weights(model: nn.Module, state: dict[str, torch.Tensor], path: str, ctx: DistContext) -> None:
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise CheckpointError(f"{path}: no weight fits the model being trained")
    skipped = sorted(set(own) - set(usable))
    model.load_state_dict(usable, strict=False)
    _log(ctx, f"initialised {len(usable)}/{len(own)} tensors from {path}"
              + (f" (kept fresh: {', '.join(skipped)})" if skipped else ""))


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    loss_fn,
    ctx: DistContext,
    amp_dtype: torch.dtype | None,
    bar: tqdm,
    augment: tuple[FrameAugment, torch.Generator] | None = None,
    penalty: SynOpsPenalty | None = None,
) -> torch.Tensor:
    """One pass over the loader; returns ``[loss_sum, correct, n, synops_fraction_sum]`` of this
    process (the loss without the penalty; the fraction summed over samples, 0 without it)."""
    model.train()
    dev = ctx.device
    loss_sum, correct, n, frac_sum = 0.0, 0, 0, 0.0
    for x, y in loader:
        if augment is not None:
            x = augment[0](x, augment[1])  # [B, T, P, H, W], on the CPU
        x = x.to(dev, non_blocking=True).transpose(0, 1)  # [B, T, ...] -> [T, B, ...]
        y = y.to(dev, non_blocking=True)
        with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            out = model(x)
        mean = out.float().mean(0)
        task_loss = loss_fn(mean, y)
        loss = task_loss + penalty.take() if penalty is not None else task_loss
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        sj_functional.reset_net(model)
        b = len(y)
        loss_sum += float(task_loss.detach()) * b
        if penalty is not None:
            frac_sum += penalty.last_fraction * b
        correct += int((mean.detach().argmax(1) == y).sum())
        n += b
        bar.update(b * ctx.world_size)
        bar.set_postfix(loss=f"{loss_sum / n:.4f}", acc=f"{100 * correct / n:.1f}%")
    return torch.tensor([loss_sum, correct, n, frac_sum], dtype=torch.float64)


def _validate(model: nn.Module, frames: FrameSet, batch_size: int, loss_fn, ctx: DistContext,
              amp_dtype: torch.dtype | None, n_classes: int) -> torch.Tensor:
    """``[loss_sum, correct, n]`` over all processes (each evaluates every world_size-th sample)."""
    idx = torch.arange(ctx.rank, len(frames), ctx.world_size)
    r = run_model(unwrap(model), frames, idx, batch_size, ctx.device, loss_fn, n_classes, amp_dtype)
    return all_reduce_sum(torch.tensor([r["loss_sum"], r["correct"], r["n"]], dtype=torch.float64), ctx)


def _is_better(acc: float, best: dict[str, Any] | None) -> bool:
    return best is None or acc > float(best["val_acc"])


def train(config: TrainConfig | dict[str, Any]) -> TrainResult:
    """Train a model as described by ``config`` (a :class:`TrainConfig` or a dict of its fields).

    Works in one process and under ``torchrun`` (DDP; only rank 0 writes files and logs).
    Writes to ``config.out``: ``last.pt``, ``best.pt``, ``config.json``, ``metrics.csv``,
    ``metrics.json``, ``curves.png``.

    Returns:
        :class:`TrainResult` (the same on every rank).

    Raises:
        InvalidParameterError, DatasetNotFoundError, CheckpointError, ... on bad input.
    """
    cfg = as_config(config)
    ctx = init_distributed(cfg.device)
    try:
        return _train(cfg, ctx)
    finally:
        ctx.cleanup()


def _train(cfg: TrainConfig, ctx: DistContext) -> TrainResult:
    t_start = time.perf_counter()
    _set_threads(cfg, ctx)
    out = Path(cfg.out)
    init_info: dict[str, Any] | None = None
    if cfg.init_from is not None:
        init_info = load_checkpoint(cfg.init_from)
        if cfg.spatial_factor is None and cfg.data is None:
            cfg.spatial_factor = int(init_info["config"]["stc"]["spatial_factor"])
    cfg = resolve_config(cfg, read_attributes(cfg.data) if cfg.data is not None else None)
    resume_ckpt = None
    if cfg.resume:
        last = out / "last.pt"
        resume_ckpt = load_checkpoint(last)
        _check_resume(resume_ckpt, cfg, last)
    seed_everything(cfg.seed)
    show = cfg.progress and ctx.is_main
    data = prepare_data(cfg, progress=show)
    if resume_ckpt is not None:
        model_cfg = dict(resume_ckpt["config"]["model"])
    else:
        base = dict(init_info["config"]["model"]) if init_info is not None else None
        model_cfg = model_config_for(cfg, data, base)
    model = build_model(**model_cfg).to(ctx.device)
    if init_info is not None and resume_ckpt is None:
        _init_weights(model, init_info["model_state"], str(cfg.init_from), ctx)
    n_classes = len(data.classes)
    loss_fn = loss_function(cfg.loss, model.readout, n_classes, cfg.label_smoothing)
    val_loss_fn = loss_function(cfg.loss, model.readout, n_classes)
    augment = FrameAugment.from_spec(cfg.augment)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.scheduler == "cosine":
        scheduler: Any = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(cfg.epochs))
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _e: 1.0)
    use_amp = cfg.amp if cfg.amp is not None else ctx.device.type == "cuda"
    amp_dtype = (torch.float16 if ctx.device.type == "cuda" else torch.bfloat16) if use_amp else None
    scaler = torch.amp.GradScaler("cuda") if use_amp and ctx.device.type == "cuda" else None

    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    start_epoch = 0
    if resume_ckpt is not None:
        model.load_state_dict(resume_ckpt["model_state"])
        optimizer.load_state_dict(resume_ckpt["optimizer_state"])
        scheduler.load_state_dict(resume_ckpt["scheduler_state"])
        if scaler is not None and resume_ckpt.get("scaler_state"):
            scaler.load_state_dict(resume_ckpt["scaler_state"])
        history = list(resume_ckpt.get("metrics", []))
        best = resume_ckpt.get("best")
        start_epoch = int(resume_ckpt["epoch"]) + 1
        set_rng_state(resume_ckpt["rng"])
        _log(ctx, f"resuming {out} after epoch {start_epoch} of {cfg.epochs}")

    saved_config = {
        "model": model_cfg,
        "stc": data.stc.to_dict(),
        "train": cfg.to_dict(),
        "data": data.info,
        "classes": list(data.classes),
        "sensor_size": list(data.sensor_size),
    }
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(saved_config, indent=2))
        n_par = sum(p.numel() for p in model.parameters())
        _log(ctx, f"train {len(data.train)} / validate {len(data.val)} ({data.info['val']['kind']}) "
                  f"samples, frames {tuple(data.train.x.shape[1:])}, model {model_cfg['preset']} "
                  f"({n_par:,} parameters), {cfg.epochs} epochs on {ctx.device}"
                  + (f" x {ctx.world_size} processes" if ctx.is_distributed else ""))

    ddp_model = wrap_model(model, ctx)
    sampler = DistributedSampler(
        data.train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    loader = DataLoader(
        data.train, batch_size=None, sampler=BatchSampler(sampler, int(cfg.batch_size), drop_last=False),
        num_workers=cfg.workers, pin_memory=ctx.device.type == "cuda",
    )
    last_path, best_path = out / "last.pt", out / "best.pt"
    for epoch in range(start_epoch, int(cfg.epochs)):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        lr = float(optimizer.param_groups[0]["lr"])
        total = len(sampler) * ctx.world_size
        with tqdm(total=total, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="rec", disable=not show,
                  leave=False, dynamic_ncols=True) as bar:
            aug = None
            if augment.active:  # its own generator: a function of (seed, epoch, rank) only
                gen = torch.Generator().manual_seed(int(cfg.seed) * 1_000_003 + epoch * 1_009 + ctx.rank)
                aug = (augment, gen)
            with SynOpsPenalty(model, cfg.synops_penalty) as penalty:
                tr = all_reduce_sum(
                    _train_epoch(ddp_model, loader, optimizer, scaler, loss_fn, ctx, amp_dtype, bar, aug,
                                 penalty if penalty.active else None), ctx
                )
            bar.set_postfix_str("validating")
            va = _validate(ddp_model, data.val, max(int(cfg.batch_size), 64), val_loss_fn, ctx, amp_dtype,
                           n_classes)
        scheduler.step()
        row = {
            "epoch": epoch + 1,
            "train_loss": float(tr[0] / tr[2]),
            "train_acc": float(tr[1] / tr[2]),
            "val_loss": float(va[0] / va[2]),
            "val_acc": float(va[1] / va[2]),
            "lr": lr,
            "epoch_time_s": round(time.perf_counter() - t0, 3),
            "train_samples": int(tr[2]),
            "val_samples": int(va[2]),
        }
        if cfg.synops_penalty > 0:
            row["train_synops_fraction"] = float(tr[3] / tr[2])
        history.append(row)
        improved = _is_better(row["val_acc"], best)
        if improved:
            best = {"epoch": epoch + 1, "val_acc": row["val_acc"]}
        if ctx.is_main:
            payload = {
                "epoch": epoch,
                "model_state": model.state_dict(),
                "optimizer_state": optimizer.state_dict(),
                "scheduler_state": scheduler.state_dict(),
                "scaler_state": scaler.state_dict() if scaler is not None else None,
                "rng": get_rng_state(),
                "config": saved_config,
                "metrics": history,
                "best": best,
                "world_size": ctx.world_size,
            }
            if improved:  # best first: last.pt is the commit point a resumed run starts from
                save_checkpoint(best_path, payload)
            save_checkpoint(last_path, payload)
            write_metrics(out, history, best, saved_config)
            _log(ctx, f"epoch {epoch + 1}/{cfg.epochs}: train loss {row['train_loss']:.4f} "
                      f"acc {100 * row['train_acc']:.2f}% | val loss {row['val_loss']:.4f} "
                      f"acc {100 * row['val_acc']:.2f}% | {row['epoch_time_s']:.1f} s"
                      + (" *" if improved else ""))
        ctx.barrier()
    model.eval()
    if best is None:  # resumed a finished run
        raise CheckpointError(f"{last_path}: no epoch recorded")
    return TrainResult(
        out_dir=out,
        history=history,
        best_epoch=int(best["epoch"]),
        best_val_acc=float(best["val_acc"]),
        last_checkpoint=last_path,
        best_checkpoint=best_path,
        config=cfg,
        model_config=model_cfg,
        data_info=data.info,
        model=model,
        elapsed_s=time.perf_counter() - t_start,
    )
