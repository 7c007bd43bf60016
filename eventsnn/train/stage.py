"""One training stage: frames -> model -> epochs of Adam(W) + schedule -> checkpoints and metrics.

A run (:func:`eventsnn.train.train`) is one stage, or two: pre-training (into ``out/pretrain``,
see :mod:`eventsnn.train.pretrain`) and then training from its weights (into ``out``). Each stage
is :func:`run_stage` on a resolved :class:`~eventsnn.train.TrainConfig`:

- :func:`build_stage`: the data (given, or :func:`~eventsnn.train.data.prepare_data`), then the
  seed, the model (from a resumed checkpoint, an initialising one, or fresh), the optimiser,
  scheduler, loss and augmentation, the restored state of a resumed stage;
- :meth:`Stage.run_epoch`: shuffled mini-batches (order from ``seed + epoch``, as
  ``DistributedSampler`` does, so it does not depend on how the run got there), forward over
  ``[T, B, P, H, W]``, loss on the mean over T of the outputs, backward, optimiser step,
  ``reset_net``; then validation and a scheduler step; returns the epoch's metrics row;
- :meth:`Stage.save`: (rank 0) ``last.pt`` + ``best.pt``, ``metrics.csv/json`` and
  ``curves.png``;
- with ``budget_cpu_s``, :meth:`Stage.fit_budget` after the first epoch: the epochs that fit in
  what is left of the run's CPU budget (the cosine schedule refitted to them), and no epoch
  starts once the budget is spent (each stage runs at least one).

Every row records ``cpu_s``: the CPU-seconds of the whole run so far (both stages; this process
since the run started, plus what a killed run had spent up to its last checkpoint when resumed),
so that "CPU-s to the first epoch at 97%" can be read from the metrics.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
from tqdm.auto import tqdm

from eventsnn.errors import CheckpointError, InvalidParameterError
from eventsnn.nn.presets import build_model, default_config, input_shape
from eventsnn.outputs import write_json
from eventsnn.run import forward
from eventsnn.train.augment import FrameAugment
from eventsnn.train.checkpoint import get_rng_state, save_checkpoint, set_rng_state
from eventsnn.train.config import TrainConfig
from eventsnn.train.data import DataBundle, FrameSet, prepare_data
from eventsnn.train.distributed import DistContext, all_reduce_sum, unwrap, wrap_model
from eventsnn.train.evaluate import evaluation_sums, loss_function
from eventsnn.train.event_augment import AugmentedWindows
from eventsnn.train.metrics import write_metrics
from eventsnn.train.regularize import SynOpsPenalty
from eventsnn.train.sampling import BalancedSampler

__all__ = ["CpuClock", "Stage", "TrainResult", "build_stage", "check_resume", "log", "model_config_for",
           "run_stage", "seed_everything", "set_threads"]

#: Fields that may change between a run and its ``--resume`` (they do not change the result).
RESUME_FREE = ("out", "resume", "overwrite", "cache_dir", "device", "workers", "progress", "threads")


@dataclass
class TrainResult:
    """What a finished :func:`train` call (or one stage of it) returns.

    Attributes:
        out_dir: the run folder.
        history: per-epoch metrics (see :mod:`eventsnn.train.metrics`), with ``cpu_s``.
        best_epoch: 1-based epoch of the best validation accuracy.
        best_val_acc: that accuracy, in ``[0, 1]``.
        last_checkpoint, best_checkpoint: ``last.pt`` and ``best.pt``.
        config: the resolved training config.
        model_config: ``model.config`` (rebuild with ``build_model(**model_config)``).
        data_info: what was trained/validated on (``DataBundle.info``).
        model: the trained model (final epoch weights, unwrapped, eval mode).
        elapsed_s: wall time of this call.
        pretrain: the pre-training stage (``None`` without one): its checkpoint, where it came
            from (``"trained"``, ``"resumed"``, ``"cache"``, ``"run folder"``), its cache
            entries, epochs and final validation accuracy (see :mod:`eventsnn.train.pretrain`).
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
    pretrain: dict[str, Any] | None = None

    @property
    def final(self) -> dict[str, Any]:
        """Metrics of the last epoch."""
        return self.history[-1]


class CpuClock:
    """CPU-seconds of a run: this process since ``start`` (``time.process_time()`` value; ``0``
    = since the process started) plus what earlier processes spent on it (:meth:`add`)."""

    def __init__(self, start: float | None = None) -> None:
        self.start = time.process_time() if start is None else float(start)
        self.earlier = 0.0

    def add(self, cpu_s: float) -> None:
        """Count ``cpu_s`` spent by a killed process on the run (its last checkpoint's value)."""
        self.earlier = max(self.earlier, float(cpu_s))

    def now(self) -> float:
        return round(self.earlier + time.process_time() - self.start, 3)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def log(ctx: DistContext, msg: str) -> None:
    """Print ``msg`` above the progress bars, on rank 0 only."""
    if ctx.is_main:
        tqdm.write(msg)


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
        in_channels=int(data.train.frame_shape[1]),
        n_classes=len(data.classes),
    )
    if config.get("arch") == "plif" and "fc_vote" not in cfg.model:
        config["fc_vote"] = config["n_classes"] * int(config["voting_size"])
    expect = tuple(data.train.frame_shape[1:])
    if input_shape(config) != expect:
        raise InvalidParameterError(
            f"model input {input_shape(config)} does not match the frames {expect}"
        )
    return config


def check_resume(ckpt: dict[str, Any], cfg: TrainConfig, path: Path) -> None:
    """Refuse to continue the stage of checkpoint ``ckpt`` (at ``path``) with other settings."""
    saved = dict(ckpt["config"].get("train", {}))
    now = cfg.to_dict()
    diff = sorted(
        k for k in now if k not in RESUME_FREE and k in saved and json.dumps(saved[k]) != json.dumps(now[k])
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
    log(ctx, f"initialised {len(usable)}/{len(own)} tensors from {path}"
             + (f" (kept fresh: {', '.join(skipped)})" if skipped else ""))


def _is_better(acc: float, best: dict[str, Any] | None) -> bool:
    return best is None or acc > float(best["val_acc"])


@dataclass
class Stage:
    """Everything one stage trains with (see :func:`build_stage`)."""

    cfg: TrainConfig
    ctx: DistContext
    clock: CpuClock
    data: DataBundle
    model: nn.Module
    model_config: dict[str, Any]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler | None
    amp_dtype: torch.dtype | None
    saved_config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    start_epoch: int = 0
    #: the epochs this stage runs: ``cfg.epochs``, or fewer when they do not fit the CPU budget
    epochs: int = 0

    def __post_init__(self) -> None:
        cfg, ctx = self.cfg, self.ctx
        n_classes = len(self.data.classes)
        self.loss_fn = loss_function(str(cfg.loss), self.model.readout, n_classes, float(cfg.label_smoothing))
        self.val_loss_fn = loss_function(str(cfg.loss), self.model.readout, n_classes)
        self.augment = FrameAugment.from_spec(cfg.augment)
        self.ddp_model = wrap_model(self.model, ctx)
        self.sampler: BalancedSampler | DistributedSampler = (
            BalancedSampler(self.data.train.y, ctx.world_size, ctx.rank, cfg.seed) if cfg.balance else
            DistributedSampler(self.data.train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                               seed=cfg.seed, drop_last=False))
        self.loader = DataLoader(
            self.data.train, batch_size=None,
            sampler=BatchSampler(self.sampler, int(cfg.batch_size), drop_last=False),
            num_workers=cfg.workers, pin_memory=ctx.device.type == "cuda",
        )
        self.out = Path(cfg.out)
        self.show = bool(cfg.progress) and ctx.is_main
        self.epochs = int(self.saved_config.get("budget_epochs", cfg.epochs))

    @property
    def name(self) -> str:
        return "pre-training" if self.saved_config.get("stage") == "pretrain" else "epoch"

    def _augmentation(self, epoch: int) -> tuple[FrameAugment, torch.Generator] | None:
        if not self.augment.active:
            return None
        # its own generator: a function of (seed, epoch, rank) only, so resumable
        gen = torch.Generator().manual_seed(int(self.cfg.seed) * 1_000_003 + epoch * 1_009 + self.ctx.rank)
        return self.augment, gen

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch, validate, step the scheduler; returns the metrics row."""
        cfg, ctx = self.cfg, self.ctx
        t0 = time.perf_counter()
        self.sampler.set_epoch(epoch)
        if isinstance(self.data.train, AugmentedWindows):
            self.data.train.set_epoch(epoch)  # its frames are remade every epoch
        lr = float(self.optimizer.param_groups[0]["lr"])
        total = len(self.sampler) * ctx.world_size
        with tqdm(total=total, desc=f"{self.name} {epoch + 1}/{self.epochs}", unit="rec", disable=not self.show,
                  leave=False, dynamic_ncols=True) as bar:
            with SynOpsPenalty(self.model, float(cfg.synops_penalty)) as penalty:
                tr = all_reduce_sum(_train_epoch(self, bar, self._augmentation(epoch),
                                                 penalty if penalty.active else None), ctx)
            bar.set_postfix_str("validating")
            va = _validate(self, self.data.val, max(int(cfg.batch_size), 64))
        self.scheduler.step()
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
            "cpu_s": self.clock.now(),
        }
        if float(cfg.synops_penalty) > 0:
            row["train_synops_fraction"] = float(tr[3] / tr[2])
        return row

    def save(self, epoch: int, row: dict[str, Any]) -> None:
        """Record ``row``; (rank 0) write ``best.pt`` if it improved, ``last.pt`` and the metrics."""
        self.history.append(row)
        improved = _is_better(row["val_acc"], self.best)
        if improved:
            self.best = {"epoch": epoch + 1, "val_acc": row["val_acc"]}
        if self.ctx.is_main:
            payload = {
                "epoch": epoch,
                "model_state": self.model.state_dict(),
                "optimizer_state": self.optimizer.state_dict(),
                "scheduler_state": self.scheduler.state_dict(),
                "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": get_rng_state(),
                "config": self.saved_config,
                "metrics": self.history,
                "best": self.best,
                "world_size": self.ctx.world_size,
            }
            if improved:  # best first: last.pt is the commit point a resumed run starts from
                save_checkpoint(self.out / "best.pt", payload)
            save_checkpoint(self.out / "last.pt", payload)
            write_metrics(self.out, self.history, self.best, self.saved_config)
            log(self.ctx, f"{self.name} {epoch + 1}/{self.epochs}: train loss {row['train_loss']:.4f} "
                          f"acc {100 * row['train_acc']:.2f}% | val loss {row['val_loss']:.4f} "
                          f"acc {100 * row['val_acc']:.2f}% | {row['epoch_time_s']:.1f} s, "
                          f"run {row['cpu_s']:.0f} CPU-s" + (" *" if improved else ""))
        self.ctx.barrier()

    def budget_spent(self) -> bool:
        """Whether the run has spent its CPU budget (never, without one)."""
        budget = self.cfg.budget_cpu_s
        return budget is not None and self.clock.now() > float(budget)

    def fit_budget(self, cpu_at_start: float, cpu_first_epoch: float) -> None:
        """After the first epoch (``cpu_first_epoch`` CPU-s; the run had spent ``cpu_at_start``
        when the stage began): run only the epochs that fit in 95% of what is left of the
        budget, at least one, with the cosine schedule refitted so that it still anneals to 0."""
        if self.cfg.budget_cpu_s is None or self.epochs <= 1:
            return
        left = float(self.cfg.budget_cpu_s) - cpu_at_start
        fit = max(1, int(0.95 * left / max(cpu_first_epoch, 1e-9)))
        if fit >= self.epochs:
            return
        what = "pre-training" if self.name == "pre-training" else "training"
        log(self.ctx, f"{what}: {self.epochs} epochs do not fit the CPU budget ({cpu_first_epoch:.0f} CPU-s "
                      f"each, {left:.0f} left): running {fit}")
        self.epochs = fit
        self.saved_config["budget_epochs"] = fit
        if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            self.scheduler.T_max = fit  # the closed form at the current step; later steps follow it
            done = self.scheduler.last_epoch
            for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs, strict=True):
                group["lr"] = 0.5 * base * (1 + math.cos(math.pi * done / fit))
            self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def result(self, t_start: float) -> TrainResult:
        self.model.eval()
        if self.best is None:  # resumed a finished run
            raise CheckpointError(f"{self.out / 'last.pt'}: no epoch recorded")
        return TrainResult(
            out_dir=self.out, history=self.history, best_epoch=int(self.best["epoch"]),
            best_val_acc=float(self.best["val_acc"]), last_checkpoint=self.out / "last.pt",
            best_checkpoint=self.out / "best.pt", config=self.cfg, model_config=self.model_config,
            data_info=self.data.info, model=self.model, elapsed_s=time.perf_counter() - t_start,
        )


def _train_epoch(
    stage: Stage,
    bar: tqdm,
    augment: tuple[FrameAugment, torch.Generator] | None = None,
    penalty: SynOpsPenalty | None = None,
) -> torch.Tensor:
    """One pass over the loader (through :func:`eventsnn.run.run_model` in training mode: augment
    on the CPU, forward, then per batch loss, backward, optimiser step, state reset); returns
    ``[loss_sum, correct, n, synops_fraction_sum]`` of this process (the loss without the
    penalty; the fraction summed over samples, 0 without it)."""
    optimizer, scaler, ctx = stage.optimizer, stage.scaler, stage.ctx
    sums = torch.zeros(4, dtype=torch.float64)

    def learn(out: torch.Tensor, batch: forward.Batch) -> None:
        assert batch.y is not None
        y = batch.y.to(ctx.device, non_blocking=True)
        mean = out.float().mean(0)
        task_loss = stage.loss_fn(mean, y)
        loss = task_loss + penalty.take() if penalty is not None else task_loss
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        b = len(y)
        sums.add_(torch.tensor([float(task_loss.detach()) * b, int((mean.detach().argmax(1) == y).sum()), b,
                                penalty.last_fraction * b if penalty is not None else 0.0], dtype=torch.float64))
        bar.update(b * ctx.world_size)
        bar.set_postfix(loss=f"{sums[0] / sums[2]:.4f}", acc=f"{100 * sums[1] / sums[2]:.1f}%")

    transform = None if augment is None else (lambda x: augment[0](x, augment[1]))  # [B, T, P, H, W], CPU
    forward.run_model(stage.ddp_model, stage.loader, device=ctx.device, amp_dtype=stage.amp_dtype, train=True,
                      transform=transform, reduce=learn)
    return sums


def _validate(stage: Stage, frames: FrameSet, batch_size: int) -> torch.Tensor:
    """``[loss_sum, correct, n]`` over all processes (each evaluates every world_size-th sample)."""
    ctx = stage.ctx
    idx = torch.arange(ctx.rank, len(frames), ctx.world_size)
    r = evaluation_sums(unwrap(stage.ddp_model), frames, idx, batch_size, ctx.device, stage.val_loss_fn,
                        len(stage.data.classes), stage.amp_dtype)
    return all_reduce_sum(torch.tensor([r["loss_sum"], r["correct"], r["n"]], dtype=torch.float64), ctx)


def _model(cfg: TrainConfig, data: DataBundle, ctx: DistContext, init: tuple[str, dict[str, Any]] | None,
           resume: dict[str, Any] | None) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a resumed stage, one initialised from ``init = (path, checkpoint)``, or a fresh one."""
    if resume is not None:
        model_cfg = dict(resume["config"]["model"])
    else:
        base = dict(init[1]["config"]["model"]) if init is not None else None
        model_cfg = model_config_for(cfg, data, base)
    model = build_model(**model_cfg).to(ctx.device)
    if init is not None and resume is None:
        _init_weights(model, init[1]["model_state"], init[0], ctx)
    return model, model_cfg


def _optimisation(cfg: TrainConfig, model: nn.Module, ctx: DistContext) -> dict[str, Any]:
    """Adam or AdamW, the learning-rate schedule over the epochs, and mixed precision."""
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(model.parameters(), lr=float(cfg.lr), weight_decay=float(cfg.weight_decay))
    if cfg.scheduler == "cosine":
        scheduler: Any = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(cfg.epochs))
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _e: 1.0)
    use_amp = cfg.amp if cfg.amp is not None else ctx.device.type == "cuda"
    amp_dtype = (torch.float16 if ctx.device.type == "cuda" else torch.bfloat16) if use_amp else None
    scaler = torch.amp.GradScaler("cuda") if use_amp and ctx.device.type == "cuda" else None
    return {"optimizer": optimizer, "scheduler": scheduler, "scaler": scaler, "amp_dtype": amp_dtype}


def _restore(stage: Stage, ckpt: dict[str, Any]) -> None:
    """Continue ``stage`` from a checkpoint of it: states, RNG, history, and the run's CPU-s."""
    stage.model.load_state_dict(ckpt["model_state"])
    stage.optimizer.load_state_dict(ckpt["optimizer_state"])
    stage.scheduler.load_state_dict(ckpt["scheduler_state"])
    if stage.scaler is not None and ckpt.get("scaler_state"):
        stage.scaler.load_state_dict(ckpt["scaler_state"])
    stage.history = list(ckpt.get("metrics", []))
    stage.best = ckpt.get("best")
    stage.start_epoch = int(ckpt["epoch"]) + 1
    if stage.history and "cpu_s" in stage.history[-1]:
        stage.clock.add(float(stage.history[-1]["cpu_s"]))
    set_rng_state(ckpt["rng"])
    stage.epochs = int(ckpt["config"].get("budget_epochs", stage.epochs))
    stage.saved_config["budget_epochs"] = stage.epochs
    log(stage.ctx, f"resuming {stage.out} after epoch {stage.start_epoch} of {stage.epochs}")


def build_stage(
    cfg: TrainConfig,
    ctx: DistContext,
    clock: CpuClock,
    data: DataBundle | None = None,
    init: tuple[str, dict[str, Any]] | None = None,
    resume: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> Stage:
    """Set up a stage of a resolved config: data (``data``, else prepared now), model (from
    ``resume``, a checkpoint of this stage; or initialised from ``init = (path, checkpoint)``),
    optimiser, schedule; ``record``: entries added to the saved config (``{"stage": ...}``)."""
    if data is None:
        data = prepare_data(cfg, progress=cfg.progress and ctx.is_main)
    seed_everything(cfg.seed)
    model, model_cfg = _model(cfg, data, ctx, init, resume)
    saved_config = {
        "model": model_cfg,
        "stc": data.stc.to_dict(),
        "train": cfg.to_dict(),
        "data": data.info,
        "classes": list(data.classes),
        "sensor_size": list(data.sensor_size),
        **(record or {}),
    }
    stage = Stage(cfg, ctx, clock, data, model, model_cfg, saved_config=saved_config,
                  **_optimisation(cfg, model, ctx))
    if resume is not None:
        _restore(stage, resume)
    return stage


def _announce(stage: Stage) -> None:
    ctx, data = stage.ctx, stage.data
    if not ctx.is_main:
        return
    write_json(stage.out / "config.json", stage.saved_config)
    n_par = sum(p.numel() for p in stage.model.parameters())
    log(ctx, f"{'pre-train' if stage.name == 'pre-training' else 'train'} {len(data.train)} / validate "
             f"{len(data.val)} ({data.info['val']['kind']}) samples of {data.info.get('dataset') or data.info.get('data')}, "
             f"frames {data.train.frame_shape}, model {stage.model_config['preset']} ({n_par:,} parameters), "
             f"{stage.epochs} epochs on {ctx.device}" + (f" x {ctx.world_size} processes" if ctx.is_distributed else ""))


def run_stage(cfg: TrainConfig, ctx: DistContext, clock: CpuClock, **setup: Any) -> TrainResult:
    """Run one stage of a resolved config to its last epoch (``setup``: see :func:`build_stage`)."""
    t_start = time.perf_counter()
    stage = build_stage(cfg, ctx, clock, **setup)
    _announce(stage)
    epoch = stage.start_epoch
    while epoch < stage.epochs and not (epoch > stage.start_epoch and stage.budget_spent()):
        cpu_before = clock.now()
        row = stage.run_epoch(epoch)
        if epoch == 0:  # before saving: a resumed run continues with the fitted epochs
            stage.fit_budget(cpu_before, clock.now() - cpu_before)
        stage.save(epoch, row)
        epoch += 1
    return stage.result(t_start)


def set_threads(cfg: TrainConfig, ctx: DistContext) -> None:
    """torch's CPU threads: ``cfg.threads``, or cores / local processes under torchrun."""
    if cfg.threads is not None:
        torch.set_num_threads(int(cfg.threads))
    elif ctx.is_distributed and ctx.device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, ctx.local_world_size)))
