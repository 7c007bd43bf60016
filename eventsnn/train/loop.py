"""The training run: settings -> [pre-training] -> training -> checkpoints and metrics.

:func:`train` is the Python entry point behind ``eventsnn train``::

    from eventsnn.train import TrainConfig, train
    result = train(TrainConfig(dataset="nmnist", T=1, out="runs/nmnist-T1"))   # the N-MNIST recipe
    result.best_val_acc, result.history[-1], result.best_checkpoint, result.pretrain

A run goes through these stages:

1. resolve the settings (:func:`~eventsnn.train.config.resolve_config`: the recipe, then the
   defaults; every value checked) and check the run folder (earlier results are refused unless
   ``resume`` or ``overwrite``) before any data is read;
2. when the settings ask for it, pre-train on a simulated set into ``out/pretrain``
   (:mod:`eventsnn.train.pretrain`; simulated frames and weights cached on disk, see
   :mod:`eventsnn.train.cache`);
3. train on the run's dataset, from the pre-trained weights, ``init_from``, or fresh
   (:mod:`eventsnn.train.stage`: epochs, validation, ``last.pt`` + ``best.pt``,
   ``metrics.csv/json``, ``curves.png``).

``resume=True`` continues a killed run in whichever stage it was killed (from ``last.pt``, or
from ``pretrain/last.pt`` when no training epoch had finished), restoring model, optimiser,
scheduler, scaler, RNG states and history: the result equals an uninterrupted run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eventsnn.datasets.compressed import read_attributes
from eventsnn.outputs import check_output_dir
from eventsnn.train.checkpoint import load_checkpoint
from eventsnn.train.config import TrainConfig, as_config, resolve_config
from eventsnn.train.data import DataBundle
from eventsnn.train.distributed import DistContext, init_distributed
from eventsnn.train.pretrain import run_pretraining
from eventsnn.train.recipes import NO_RECIPE
from eventsnn.train.stage import (
    CpuClock,
    TrainResult,
    check_resume,
    log,
    model_config_for,
    run_stage,
    seed_everything,
    set_threads,
)

__all__ = ["TrainResult", "train", "seed_everything", "model_config_for", "RUN_MARKERS"]

#: files that show earlier results in a run folder
RUN_MARKERS = ("last.pt", "best.pt", "pretrain/last.pt")


def train(config: TrainConfig | dict[str, Any], cpu_start: float | None = None,
          data: DataBundle | None = None) -> TrainResult:
    """Train a model as described by ``config`` (a :class:`TrainConfig` or a dict of its fields).

    Works in one process and under ``torchrun`` (DDP; only rank 0 writes files and logs).
    Writes to ``config.out``: ``last.pt``, ``best.pt``, ``config.json``, ``metrics.csv``,
    ``metrics.json``, ``curves.png`` (and ``pretrain/`` with the same files when the run
    pre-trains).

    Args:
        config: the settings; fields left ``None`` come from the recipe, then the defaults.
        cpu_start: ``time.process_time()`` value the run's CPU-seconds (``cpu_s`` in the metrics)
            count from: default now; ``0.0`` = since the process started (the command line).
        data: train on these frames instead of those the settings name (a :class:`DataBundle`
            made by the caller, e.g. with another frame pipeline; ``info`` must have ``val``
            with its ``kind``); the settings still choose model, optimisation and pre-training.

    Returns:
        :class:`TrainResult` (the same on every rank).

    Raises:
        InvalidParameterError, OutputExistsError, DatasetNotFoundError, CheckpointError, ... on
        bad input, before any data is read where the settings alone show it.
    """
    cfg = as_config(config)
    clock = CpuClock(cpu_start)
    ctx = init_distributed(cfg.device)
    try:
        result = _run(cfg, ctx, clock, data)
        # every rank is done before any leaves the group: rank 0 hosts the rendezvous store, and a
        # rank still talking to it when it goes aborts ("terminate called without an active exception")
        ctx.barrier()
        return result
    finally:
        ctx.cleanup()


def describe_settings(cfg: TrainConfig) -> str:
    """One line: the recipe of resolved settings ``cfg`` and what it trains with."""
    head = f"recipe {cfg.recipe}" if cfg.recipe != NO_RECIPE else "no recipe (bare defaults)"
    stc = f"STC {cfg.mode} T={cfg.T} ratio={cfg.ratio}" + (f" decay={cfg.decay}" if cfg.mode == "exp" else "")
    pre = (f"pre-training {cfg.pretrain_epochs} epochs on {cfg.pretrain_dataset} (lr {cfg.pretrain_lr}), then "
           if cfg.pretrain_epochs else "")
    return (f"{head}: {cfg.dataset or cfg.data}, {stc}, preset {cfg.preset} {cfg.model or ''}, "
            f"{pre}{cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}, loss {cfg.loss}"
            + (f", label smoothing {cfg.label_smoothing}" if cfg.label_smoothing else "")
            + (f", augment {cfg.augment}" if cfg.augment not in (None, "none", "") else "")
            + (f", event augment {cfg.event_augment}" if cfg.event_augment not in (None, "none", "") else "")
            + (", class-balanced epochs" if cfg.balance else "")
            + (f", dataset options {cfg.dataset_options}" if cfg.dataset_options else ""))


def _resolve(cfg: TrainConfig) -> tuple[TrainConfig, tuple[str, dict[str, Any]] | None]:
    """The resolved settings, and the ``init_from`` checkpoint (``(path, checkpoint)``) if any."""
    init = None
    if cfg.init_from is not None:
        init = (str(cfg.init_from), load_checkpoint(cfg.init_from))
        if cfg.spatial_factor is None and cfg.data is None:
            cfg.spatial_factor = int(init[1]["config"]["stc"]["spatial_factor"])
    cfg = resolve_config(cfg, read_attributes(cfg.data) if cfg.data is not None else None)
    check_output_dir(cfg.out, overwrite=cfg.overwrite, resume=cfg.resume, markers=RUN_MARKERS, resumable=True,
                     create=False)
    return cfg, init


def _resumed(cfg: TrainConfig) -> dict[str, Any] | None:
    """The checkpoint a resumed run's training stage continues from (``None``: not resuming, or
    killed while pre-training, which then continues)."""
    if not cfg.resume:
        return None
    out = Path(cfg.out)
    if cfg.pretrain_epochs and not (out / "last.pt").is_file() and (out / "pretrain" / "last.pt").is_file():
        return None
    ckpt = load_checkpoint(out / "last.pt")
    check_resume(ckpt, cfg, out / "last.pt")
    return ckpt


def _run(cfg: TrainConfig, ctx: DistContext, clock: CpuClock, data: DataBundle | None = None) -> TrainResult:
    t_start = time.perf_counter()
    cfg, init = _resolve(cfg)
    set_threads(cfg, ctx)
    log(ctx, describe_settings(cfg))
    resume = _resumed(cfg)
    pretrain = resume["config"].get("pretrain") if resume is not None else None
    if cfg.pretrain_epochs and resume is None:
        pretrain = run_pretraining(cfg, ctx, clock)
        init = (pretrain["checkpoint"], load_checkpoint(pretrain["checkpoint"]))
    result = run_stage(cfg, ctx, clock, data=data, init=init, resume=resume,
                       record={"stage": "train", "pretrain": pretrain})
    result.pretrain = pretrain
    result.elapsed_s = time.perf_counter() - t_start
    return result
