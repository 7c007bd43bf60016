"""The pre-training stage of a run: train on a simulated set first, in ``out/pretrain``, cached.

When a run's settings say ``pretrain_epochs > 0`` (the N-MNIST recipes: 9,000 simulated N-MNIST
recordings, ``nmnist-sim``), :func:`eventsnn.train.train` first runs this stage, then trains on
the run's own dataset starting from its weights. The stage's settings are the run's
(:func:`pretrain_config`): the same STC, model, optimisation and seed (but the learning rate
``pretrain_lr``), on ``pretrain_dataset`` for ``pretrain_epochs`` epochs (validated on its test
split), without the synaptic-operation penalty, which only the final stage uses.

Where its weights come from (:func:`run_pretraining`), in this order:

1. ``resume`` and a finished ``out/pretrain/last.pt``: that one (``"run folder"``);
   an unfinished one: pre-training continues from it (``"resumed"``);
2. the cache (:mod:`eventsnn.train.cache`), when an entry for exactly these settings is there
   and valid: copied to ``out/pretrain/last.pt`` (``"cache"``);
3. otherwise it trains (``"trained"``), on the cached frames of the simulated set when they are
   there (else it simulates them and stores them), and stores the weights.

Only simulated datasets (a pure function of their settings and source files) are cached.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import torch

from eventsnn.datasets.registry import dataset_spec
from eventsnn.outputs import atomic_path
from eventsnn.train.cache import TrainCache, frames_key, key_hash, weights_key
from eventsnn.train.checkpoint import load_checkpoint
from eventsnn.train.config import TrainConfig
from eventsnn.train.data import DataBundle, prepare_data
from eventsnn.train.distributed import DistContext, all_reduce_sum
from eventsnn.train.metrics import write_metrics
from eventsnn.train.recipes import NO_RECIPE
from eventsnn.train.stage import CpuClock, check_resume, log, run_stage

__all__ = ["pretrain_config", "run_pretraining"]


def pretrain_config(cfg: TrainConfig) -> TrainConfig:
    """The resolved settings of the pre-training stage of the resolved run settings ``cfg``."""
    limits = [n for n in (cfg.limit, cfg.pretrain_limit) if n is not None]
    return dataclasses.replace(
        cfg, out=str(Path(cfg.out) / "pretrain"), dataset=cfg.pretrain_dataset, data=None,
        root=cfg.pretrain_root if cfg.pretrain_root is not None else cfg.root, pretrain_root=None,
        limit=min(limits) if limits else None, recipe=NO_RECIPE,
        val_split="auto", val_fraction=0.1, split_seed=0,  # the simulated set's own test split
        model=dict(cfg.model), init_from=None, pretrain_dataset=None, pretrain_epochs=0, pretrain_limit=None,
        epochs=int(cfg.pretrain_epochs or 0), lr=cfg.pretrain_lr if cfg.pretrain_lr is not None else cfg.lr,
        pretrain_lr=None, synops_penalty=0.0, resume=False,
        dataset_options={}, event_augment=None, balance=False,  # the run's dataset's, not the simulated set's
    )


def _rank0_says(ctx: DistContext, flag: bool) -> bool:
    """Rank 0's ``flag``, on every rank."""
    return bool(all_reduce_sum(torch.tensor([float(flag and ctx.is_main)], dtype=torch.float64), ctx)[0] > 0)


class _PretrainCache:
    """The cache entries of one pre-training stage (keys computed once)."""

    def __init__(self, pcfg: TrainConfig, ctx: DistContext) -> None:
        self.pcfg, self.ctx = pcfg, ctx
        self.cache = TrainCache(pcfg.cache_dir, log=lambda msg: log(ctx, msg))
        self.name = str(pcfg.dataset)
        self.frames_key = frames_key(pcfg)
        self.weights_key = weights_key(pcfg, self.frames_key, ctx.world_size, ctx.device.type)

    def record(self) -> dict[str, Any]:
        return {"cache_dir": str(self.cache.folder),
                "frames_entry": str(self.cache.entry(self.frames_key, self.name)),
                "weights_entry": str(self.cache.entry(self.weights_key, self.name)),
                "weights_key": key_hash(self.weights_key)}

    def weights(self) -> Path | None:
        return self.cache.read_weights(self.weights_key, self.name) if self.ctx.is_main else None

    def store_weights(self, checkpoint: Path) -> None:
        if self.ctx.is_main and self.cache.read_weights(self.weights_key, self.name) is None:
            self.cache.write_weights(self.weights_key, self.name, checkpoint)

    def frames(self, progress: bool) -> tuple[DataBundle, str]:
        """The simulated set's frames: from the cache, or simulated now and stored (rank 0 first)."""
        bundle, source = None, "cache"
        if self.ctx.is_main:
            bundle = self.cache.read_frames(self.frames_key, self.name)
            if bundle is None:
                log(self.ctx, f"cache: no frames of {self.name} with these settings yet: simulating them")
                bundle, source = prepare_data(self.pcfg, progress), "simulated"
                self.cache.write_frames(self.frames_key, self.name, bundle)
            else:
                log(self.ctx, f"cache: frames of {self.name} from {self.cache.entry(self.frames_key, self.name)}")
        self.ctx.barrier()
        if bundle is None:  # other ranks, after rank 0 stored them
            bundle = self.cache.read_frames(self.frames_key, self.name) or prepare_data(self.pcfg, False)
        return bundle, source


def _finished(ckpt: dict[str, Any], pcfg: TrainConfig) -> bool:
    return int(ckpt["epoch"]) + 1 >= int(pcfg.epochs)


def _from_cache(entry: Path, out: Path, ctx: DistContext) -> None:
    """Copy the cached checkpoint to ``out/last.pt`` with its metrics (rank 0)."""
    if ctx.is_main:
        with atomic_path(out / "last.pt") as tmp:
            shutil.copyfile(entry, tmp)
        ckpt = load_checkpoint(out / "last.pt")
        write_metrics(out, ckpt.get("metrics", []), ckpt.get("best"), ckpt["config"])
    ctx.barrier()


def _train(pcfg: TrainConfig, ctx: DistContext, clock: CpuClock, cache: _PretrainCache | None,
           resume: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any]:
    data, record["frames"] = None, "prepared"
    if cache is not None:
        data, record["frames"] = cache.frames(bool(pcfg.progress) and ctx.is_main)
    result = run_stage(pcfg, ctx, clock, data=data, resume=resume, record={"stage": "pretrain"})
    if cache is not None:
        cache.store_weights(result.last_checkpoint)
    record["val_acc"] = float(result.final["val_acc"])
    return record


def run_pretraining(cfg: TrainConfig, ctx: DistContext, clock: CpuClock) -> dict[str, Any]:
    """Run (or reuse) the pre-training stage of the resolved run settings ``cfg``.

    Returns:
        A JSON-able record: ``dataset``, ``epochs``, ``checkpoint`` (``out/pretrain/last.pt``),
        ``source`` (``"trained"``, ``"resumed"``, ``"cache"`` or ``"run folder"``), ``frames``
        (``"cache"``, ``"simulated"``, ``"prepared"``; ``None`` when not trained here),
        the cache folder and entries, and ``val_acc`` of its final epoch on its validation set.
    """
    pcfg = pretrain_config(cfg)
    out = Path(pcfg.out)
    last = out / "last.pt"
    cache = _PretrainCache(pcfg, ctx) if dataset_spec(str(pcfg.dataset)).simulated else None
    record: dict[str, Any] = {"dataset": pcfg.dataset, "epochs": pcfg.epochs, "checkpoint": str(last),
                              "frames": None, **(cache.record() if cache is not None else {})}
    if cache is None:
        log(ctx, f"pre-training on {pcfg.dataset} is not cached (only simulated sets are)")
    if cfg.resume and last.is_file():
        ckpt = load_checkpoint(last)
        check_resume(ckpt, pcfg, last)
        if not _finished(ckpt, pcfg):
            return _train(pcfg, ctx, clock, cache, ckpt, {**record, "source": "resumed"})
        log(ctx, f"pre-training finished in {last}: fine-tuning from it")
        if cache is not None:
            cache.store_weights(last)
        return {**record, "source": "run folder", "val_acc": float(ckpt["metrics"][-1]["val_acc"])}
    entry = cache.weights() if cache is not None else None
    if cache is not None and _rank0_says(ctx, entry is not None):
        log(ctx, f"cache: pre-trained weights ({pcfg.dataset}, {pcfg.epochs} epochs) from {entry}: "
                 f"skipping simulation and pre-training")
        _from_cache(Path(str(entry)), out, ctx)
        ckpt = load_checkpoint(last)
        return {**record, "source": "cache", "val_acc": float(ckpt["metrics"][-1]["val_acc"])}
    return _train(pcfg, ctx, clock, cache, None, {**record, "source": "trained"})
