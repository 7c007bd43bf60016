"""The methods the accuracy benchmarks compare, defined once, and the files their results go to.

Every method trains through :func:`eventsnn.train.train`, so the only differences between two
methods are their settings (:class:`~eventsnn.train.TrainConfig` fields: recipe, network,
optimiser, loss, augmentation, pre-training) and their frames:

- **eventsnn** on N-MNIST: the recipe table's settings per T (:data:`NMNIST_RECIPES`, the one
  definition ``eventsnn train --dataset nmnist --T N`` runs; :func:`eventsnn_settings`), pre-trained
  on simulated N-MNIST (:func:`pretrain_config`), trained by :func:`run_eventsnn` on the real
  recordings with the benchmark's hold-out;
- **plif**, SpikingJelly's PLIF reference (Fang et al. 2021): the ``plif`` recipe (preset ``plif``,
  Adam 1e-3, cosine, batch 16, MSE to one-hot rates, 15 epochs) on Tonic
  ``ToFrame(n_time_bins=T)`` frames (:func:`tonic_frames`), as SpikingJelly's example makes them;
- any method on frames the benchmark made itself (:func:`train_on_frames`, e.g. the simulated
  CIFAR10-DVS frames of ``bench_cifar10dvs_sim.py``).

Budget: ``budget_cpu_s`` is the run's CPU time (``TrainConfig.budget_cpu_s``: this process, all
threads, pre-training included), which does not grow when other jobs share the cores; wall time and
load average are recorded next to it.

Result rows (one per method and T) are JSON-able dicts with the keys of :data:`CSV_KEYS` plus the
history and settings; :func:`write_results` writes ``<stem>.json`` and ``<stem>.csv``,
:func:`earlier_rows` reads back the rows a ``--merge`` run keeps.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from eventsnn.datasets.frames import FrameSet
from eventsnn.outputs import write_csv, write_json
from eventsnn.train import RECIPES, DataBundle, TrainConfig, TrainResult, train
from eventsnn.transforms import STC
from eventsnn.viz import plot_method_accuracy

__all__ = [
    "CSV_KEYS",
    "COMPACT_CHANNELS",
    "COMPACT_PENALTY",
    "EVENTSNN",
    "EVENTSNN_EPOCHS",
    "EVENTSNN_PER_T",
    "EVENTSNN_PRETRAIN_EPOCHS",
    "NMNIST_HOLDOUT",
    "NMNIST_RECIPES",
    "PLIF",
    "BenchRun",
    "earlier_rows",
    "eventsnn_settings",
    "frame_bundle",
    "pretrain_config",
    "result_row",
    "row_summary",
    "run_eventsnn",
    "run_plif",
    "table",
    "tonic_frames",
    "train_command",
    "train_on_frames",
    "write_results",
]


@dataclass
class BenchRun:
    """Where and how a benchmark's trainings run (its command-line options).

    Attributes:
        root: shared data folder (``None``: :func:`eventsnn.paths.shared_data_dir`).
        runs: folder of the run folders.
        seed: training seed; ``split_seed``: seed of the hold-out split.
        threads: torch CPU threads; ``budget_cpu_s``: CPU-seconds per training.
        limit: use only this many training recordings (``None``: all).
    """

    root: str | None = None
    runs: str = "runs/bench"
    seed: int = 0
    split_seed: int = 1
    threads: int = 2
    budget_cpu_s: float = 2400.0
    limit: int | None = None

    @classmethod
    def from_args(cls, args: Any, **changes: Any) -> BenchRun:
        """From parsed arguments with these attribute names (missing ones keep the defaults)."""
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
        return cls(**{**values, **changes})

    @classmethod
    def add_arguments(
        cls,
        ap: argparse.ArgumentParser,
        runs: str,
        split_seed: bool = False,
        root_help: str = "shared data folder (default: eventsnn.paths)",
    ) -> None:
        """Add the options :meth:`from_args` reads to ``ap``: ``--root``, ``--runs`` (default
        ``runs``), ``--budget-cpu-s``, ``--threads``, ``--seed`` and, with ``split_seed``,
        ``--split-seed``; the defaults are this class's."""
        ap.add_argument("--root", default=cls.root, help=root_help)
        ap.add_argument("--runs", default=runs, help="run folders of the trainings")
        ap.add_argument("--budget-cpu-s", type=float, default=cls.budget_cpu_s,
                        help="CPU seconds per run (2 cores x 20 min)")
        ap.add_argument("--threads", type=int, default=cls.threads)
        ap.add_argument("--seed", type=int, default=cls.seed)
        if split_seed:
            ap.add_argument("--split-seed", type=int, default=cls.split_seed,
                            help="seed of the hold-out split (settings were explored on seed 0's hold-out)")


# ------------------------------------------------------------------------------------------------
# eventsnn on N-MNIST

#: eventsnn's N-MNIST recipes by T (``eventsnn.train.recipes``): per T the ``TrainConfig`` fields
#: (``model`` = overrides of the ``nmnist`` preset), the epochs and the pre-training epochs.
#: ``pretrain_epochs`` > 0 first trains on the 9,000 simulated N-MNIST recordings (``nmnist-sim``)
#: and fine-tunes from that checkpoint.
NMNIST_RECIPES = {r.T: r for r in RECIPES if r.dataset == "nmnist" and r.T is not None}
#: the fraction of the 1,000 N-MNIST recordings the N-MNIST benchmarks hold out (801 / 199)
NMNIST_HOLDOUT = 0.2
#: the recipe fields a benchmark passes itself (T, epochs) or runs as its own step (pre-training)
_NOT_SETTINGS = ("T", "epochs", "pretrain_dataset", "pretrain_epochs", "pretrain_limit")


def _settings(T: int) -> dict[str, Any]:
    return {k: v for k, v in NMNIST_RECIPES[T].config_values().items() if k not in _NOT_SETTINGS}


#: the settings every T shares (those of the summed-STC recipe, T = 4) ...
EVENTSNN: dict[str, Any] = _settings(4)
#: ... and what each T changes (exponential STC with 8 fine frames per step at T = 1 and 2)
EVENTSNN_PER_T: dict[int, dict[str, Any]] = {
    T: {k: v for k, v in _settings(T).items() if EVENTSNN.get(k) != v} for T in NMNIST_RECIPES
}
EVENTSNN_EPOCHS = {T: int(r.settings["epochs"]) for T, r in NMNIST_RECIPES.items()}
EVENTSNN_PRETRAIN_EPOCHS = {T: int(r.settings.get("pretrain_epochs", 0)) for T, r in NMNIST_RECIPES.items()}

#: eventsnn's compact variant (``bench_latency.py``'s ``eventsnn-compact``): 64 channels in both
#: blocks, and the synaptic-operation penalty while fine-tuning on the real recordings (not while
#: pre-training). Chosen on split seeds 5 to 8: 64 channels were within 0.25 points of 128 at
#: T = 1 (97.25% vs 97.5%) and T = 2 (97.1% vs 97.4%) with 3x fewer synaptic operations; the
#: penalty (weight 1; seeds 5 and 6, T = 2) kept the accuracy (97.75%) and removed another 35% of them.
COMPACT_CHANNELS = [64, 64]
COMPACT_PENALTY = 1.0

#: pre-trained checkpoints of this process, by pre-training command: the hold-out split does not
#: enter pre-training, so runs on other splits reuse it; each run still counts the pre-training's
#: CPU time in its own.
_PRETRAINED: dict[str, tuple[str, float, float]] = {}


def eventsnn_settings(T: int, compact: bool = False) -> dict[str, Any]:
    """eventsnn's ``TrainConfig`` fields at ``T``: :data:`EVENTSNN` + :data:`EVENTSNN_PER_T`;
    ``compact``: with :data:`COMPACT_CHANNELS` and ``synops_penalty`` :data:`COMPACT_PENALTY`
    (pre-training runs set it to 0)."""
    settings = {**EVENTSNN, **EVENTSNN_PER_T.get(T, {})}
    if compact:
        settings["model"] = {**settings["model"], "channels": list(COMPACT_CHANNELS)}
        settings["synops_penalty"] = COMPACT_PENALTY
    return settings


def pretrain_config(common: dict[str, Any], out: str, epochs: int, limit: int | None = None) -> TrainConfig:
    """The ``nmnist-sim`` pre-training run for the fine-tuning settings ``common`` (``TrainConfig``
    fields): the same settings without the synaptic-operation penalty, which only fine-tuning uses,
    and with the learning rate ``pretrain_lr`` when the recipe gives one."""
    lr = common.get("pretrain_lr") or common["lr"]
    return TrainConfig(dataset="nmnist-sim", recipe="none", out=out, epochs=epochs, limit=limit,
                       **{**common, "synops_penalty": 0.0, "lr": lr, "pretrain_lr": None})


def train_command(cfg: TrainConfig) -> str:
    """The ``eventsnn train`` command line equivalent to ``cfg``."""
    args = ["eventsnn", "train", "--dataset", str(cfg.dataset), "--recipe", str(cfg.recipe)]
    if cfg.root:
        args += ["--root", str(cfg.root)]
    if cfg.limit:
        args += ["--limit", str(cfg.limit)]
    args += ["--val-split", cfg.val_split, "--val-fraction", str(cfg.val_fraction),
             "--split-seed", str(cfg.split_seed), "--preset", str(cfg.preset)]
    model = dict(cfg.model)
    if "n_thresholds" in model:
        args += ["--K", str(model.pop("n_thresholds"))]
    if "scb" in model:
        args += ["--scb", str(model.pop("scb"))]
    for k, v in model.items():
        args += ["--model-arg", f"{k}={v}"]
    if cfg.init_from:
        args += ["--init-from", str(cfg.init_from)]
    args += ["--T", str(cfg.T), "--ratio", str(cfg.ratio), "--mode", cfg.mode]
    if cfg.mode == "exp":
        args += ["--decay", str(cfg.decay)]
    args += ["--epochs", str(cfg.epochs), "--batch-size", str(cfg.batch_size), "--lr", str(cfg.lr),
             "--weight-decay", str(cfg.weight_decay), "--label-smoothing", str(cfg.label_smoothing)]
    args += [x for flag, value in (("--optimizer", cfg.optimizer), ("--scheduler", cfg.scheduler), ("--loss", cfg.loss))
             if value is not None for x in (flag, str(value))]
    if cfg.augment:
        args += ["--augment", cfg.augment]
    if cfg.synops_penalty:
        args += ["--synops-penalty", str(cfg.synops_penalty)]
    if cfg.budget_cpu_s is not None:
        args += ["--budget-cpu-s", f"{cfg.budget_cpu_s:g}"]
    args += ["--seed", str(cfg.seed), "--threads", str(cfg.threads), "--out", str(cfg.out)]
    return shlex.join(args)


def _pretrained(pre: TrainConfig, commands: list[str]) -> tuple[str, float, float, bool]:
    """``(checkpoint, wall_s, cpu_s, reused)`` of pre-training ``pre``, trained now or earlier in
    this process; its command is appended to ``commands``."""
    key = train_command(dataclasses.replace(pre, out=""))
    commands.append(train_command(pre))
    reused = key in _PRETRAINED
    if reused:
        commands[-1] = f"(reused {_PRETRAINED[key][0]}) " + commands[-1]
    else:
        p0, q0 = time.perf_counter(), time.process_time()
        res = train(pre)
        _PRETRAINED[key] = (str(res.last_checkpoint), time.perf_counter() - p0, time.process_time() - q0)
    return (*_PRETRAINED[key], reused)


def run_eventsnn(T: int, run: BenchRun, hold: np.ndarray, quick: bool = False,
                 settings: dict[str, Any] | None = None, epochs: int | None = None,
                 pre_epochs: int | None = None, tag: str | None = None,
                 holdout: float = NMNIST_HOLDOUT) -> dict[str, Any]:
    """Train eventsnn on N-MNIST through :func:`eventsnn.train.train`; returns a result row.

    ``hold``: the benchmark's held-out positions (checked against those ``eventsnn.train`` holds
    out with ``holdout`` and ``run.split_seed``); ``settings`` (TrainConfig fields), ``epochs``
    and ``pre_epochs`` default to :func:`eventsnn_settings` and the per-T tables; ``quick``: 1
    epoch, 200 pre-training recordings and a third held out; ``tag`` names the run folder
    (default ``eventsnn_T<T>``).
    """
    settings = dict(eventsnn_settings(T) if settings is None else settings)
    epochs = EVENTSNN_EPOCHS[T] if epochs is None else epochs
    pre_epochs = EVENTSNN_PRETRAIN_EPOCHS[T] if pre_epochs is None else pre_epochs
    if quick:
        epochs, pre_epochs = 1, min(1, pre_epochs)
    run_dir = Path(run.runs) / (tag or f"eventsnn_T{T}")
    common = dict(root=run.root, T=T, seed=run.seed, threads=run.threads, progress=False, **settings)
    torch.set_num_threads(run.threads)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    commands: list[str] = []
    init_from, pre_wall, pre_cpu, reused = None, 0.0, 0.0, False
    if pre_epochs:
        pre = pretrain_config(common, str(run_dir / "pretrain"), pre_epochs, limit=200 if quick else None)
        init_from, pre_wall, pre_cpu, reused = _pretrained(pre, commands)
    cfg = TrainConfig(dataset="nmnist", recipe="none", out=str(run_dir / "train"), val_split="holdout",
                      val_fraction=holdout if not quick else 1 / 3, split_seed=run.split_seed, epochs=epochs,
                      limit=run.limit, init_from=init_from, **common)
    commands.append(train_command(cfg))
    res = train(cfg)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if reused:  # charge the shared pre-training, measured when it ran
        wall, cpu = wall + pre_wall, cpu + pre_cpu
    if [int(i) for i in res.data_info["val"]["indices"]] != [int(i) for i in hold]:
        raise RuntimeError("eventsnn.train held out other recordings than the benchmark split")
    row = result_row("eventsnn", res, wall, cpu, load0, epochs_planned=epochs)
    row.update({
        "n_pretrain": 9000 if pre_epochs and not quick else (200 if pre_epochs else 0),
        "pretrain_epochs_done": pre_epochs, "pretrain_cpu_s": round(pre_cpu, 1), "budget_hit": False,
        "over_budget": cpu > run.budget_cpu_s, "commands": commands,
        "recipe": {"train_config": {k: v for k, v in cfg.to_dict().items() if k not in ("out", "init_from")},
                   "pretrain_epochs": pre_epochs},
    })
    return row


# ------------------------------------------------------------------------------------------------
# SpikingJelly's PLIF reference, and training on frames made by the benchmark

#: SpikingJelly's PLIF recipe (Fang et al. 2021), unchanged: the ``plif`` recipe's settings
#: (preset ``plif``: {Conv128-BN-PLIF-MaxPool} x 2, FC2048-PLIF, FC100-PLIF, voting; Adam 1e-3,
#: cosine schedule over 15 epochs, batch 16, MSE of the voting rates to one-hot targets, no
#: augmentation, no pre-training), on Tonic ``ToFrame`` frames (:func:`tonic_frames`).
PLIF: dict[str, Any] = {"recipe": "plif"}


def tonic_frames(recordings: Sequence[np.ndarray], sensor_size: Sequence[int], T: int,
                 spatial_factor: int = 1) -> torch.Tensor:
    """Tonic ``ToFrame(sensor_size, n_time_bins=T)`` frames ``[N, T, P, H, W]`` (float32), as the
    PLIF reference makes them; ``spatial_factor > 1`` sum-pools them afterwards (f x f blocks).

    ``recordings``: structured event arrays with fields ``x, y, t, p`` (t in µs); ``sensor_size``
    ``(W, H, P)``. (eventsnn's summed STC counts the last event of a recording, which ``ToFrame``
    drops; otherwise the frames are equal.)
    """
    import tonic

    to_frame = tonic.transforms.ToFrame(sensor_size=tuple(int(s) for s in sensor_size), n_time_bins=T)
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


def frame_bundle(train_xy: tuple[torch.Tensor, torch.Tensor], test_xy: tuple[torch.Tensor, torch.Tensor],
                 classes: Sequence[str], sensor_size: Sequence[int], stc: STC,
                 info: dict[str, Any] | None = None) -> DataBundle:
    """A :class:`eventsnn.train.DataBundle` of frames ``[N, T, P, H, W]`` with labels ``[N]``: train on
    ``train_xy``, validate (and report) on ``test_xy``. ``sensor_size`` ``(W, H, P)`` of the
    recordings; ``stc``: the STC settings the frames equal (or stand for); ``info``: what they are
    (JSON-able; ``val.kind`` defaults to ``"test"``)."""
    info = {"source": "frames", **(info or {})}
    info["val"] = {"kind": "test", **info.get("val", {})}
    info.update(n_train=len(train_xy[1]), n_val=len(test_xy[1]))
    return DataBundle(FrameSet(*train_xy), FrameSet(*test_xy), [str(c) for c in classes],
                      tuple(int(s) for s in sensor_size), stc, info)  # type: ignore[arg-type]


def result_row(method: str, res: TrainResult, wall_s: float, cpu_s: float, load0: float,
               epochs_planned: int) -> dict[str, Any]:
    """The result row of a finished training ``res``: its accuracy after the last epoch on the
    validation (test) frames (not the best epoch's), times, epochs and history."""
    final = res.history[-1]
    n = int(final["val_samples"])
    return {
        "method": method, "T": int(res.config.T or 0), "accuracy": float(final["val_acc"]),
        "correct": round(float(final["val_acc"]) * n), "n_test": n, "n_train": int(final["train_samples"]),
        "n_pretrain": 0, "accuracy_after_pretrain": (res.pretrain or {}).get("val_acc"),
        "epochs_done": len(res.history), "pretrain_epochs_done": int((res.pretrain or {}).get("epochs") or 0),
        "epochs_planned": epochs_planned, "budget_hit": len(res.history) < epochs_planned,
        "train_wall_s": round(wall_s, 1), "train_cpu_s": round(cpu_s, 1), "frames_s": 0.0,
        "load_avg_start": round(load0, 2), "load_avg_end": round(os.getloadavg()[0], 2),
        "parameters": sum(p.numel() for p in res.model.parameters()) if res.model is not None else None,
        "final_train_acc": final["train_acc"], "best_epoch_val_acc_not_used": res.best_val_acc,
        "recipe": {"train_config": {k: v for k, v in res.config.to_dict().items() if k not in ("out", "init_from")}},
        "history": res.history,
    }


def train_on_frames(method: str, settings: dict[str, Any], data: DataBundle, run: BenchRun,
                    out: str | Path, frames_s: float = 0.0) -> dict[str, Any]:
    """Train ``method`` (``TrainConfig`` fields ``settings``, e.g. :data:`PLIF`) on the frames of
    ``data`` through :func:`eventsnn.train.train`, within ``run.budget_cpu_s`` CPU-seconds;
    returns its result row (accuracy on ``data.val`` after the last epoch). ``frames_s``: the
    time it took to make the frames (recorded, not charged to the budget)."""
    dataset = data.info.get("dataset")
    cfg = TrainConfig(out=str(out), dataset=dataset, T=data.train.T, spatial_factor=data.stc.spatial_factor, seed=run.seed,
                      threads=run.threads, budget_cpu_s=run.budget_cpu_s, progress=False,
                      **{"recipe": "none", **settings})
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    res = train(cfg, data=data)
    row = result_row(method, res, time.perf_counter() - t0, time.process_time() - c0, load0,
                     epochs_planned=int(res.config.epochs or 0))
    row["frames_s"] = round(frames_s, 1)
    return row


def run_plif(T: int, run: BenchRun, dataset: Any, indices: np.ndarray, keep: np.ndarray, hold: np.ndarray,
             epochs: int | None = None, name: str = "nmnist") -> dict[str, Any]:
    """SpikingJelly's PLIF reference on the recordings ``indices`` of ``dataset`` (registered as
    ``name``): Tonic frames at ``T``, trained on positions ``keep`` of ``indices``, evaluated on
    ``hold`` after the last epoch; ``epochs`` replaces the recipe's 15."""
    t0 = time.perf_counter()
    x = tonic_frames([dataset.read(int(i)) for i in indices], dataset.sensor_size, T)
    y = torch.from_numpy(np.asarray(dataset.targets, dtype=np.int64)[np.asarray(indices)])
    frames_s = time.perf_counter() - t0
    data = frame_bundle((x[keep], y[keep]), (x[hold], y[hold]), dataset.classes, dataset.sensor_size,
                        STC(tuple(int(s) for s in dataset.sensor_size), T),
                        {"dataset": name, "frames": f"tonic.transforms.ToFrame(n_time_bins={T})",
                         "val": {"kind": "holdout", "split_seed": run.split_seed,
                                 "indices": [int(indices[i]) for i in hold]}})
    settings = {**PLIF, **({"epochs": epochs} if epochs is not None else {})}
    return train_on_frames("plif", settings, data, run, Path(run.runs) / f"plif_T{T}", frames_s)


# ------------------------------------------------------------------------------------------------
# results files

#: the columns of ``<stem>.csv``
CSV_KEYS = ["method", "T", "accuracy", "correct", "n_test", "n_train", "n_pretrain", "epochs_done",
            "epochs_planned", "budget_hit", "train_wall_s", "train_cpu_s", "frames_s",
            "load_avg_start", "load_avg_end", "parameters"]


def row_summary(name: str, row: dict[str, Any]) -> str:
    """One line for a finished run: accuracy (correct/total), wall and CPU time, epochs, load."""
    return (f"{name} T={row['T']}: {100 * row['accuracy']:.2f}% ({row['correct']}/{row['n_test']}) "
            f"in {row['train_wall_s']:.0f} s wall, {row['train_cpu_s']:.0f} CPU-s, "
            f"{row['epochs_done']}/{row['epochs_planned']} epochs, load {row['load_avg_end']:.1f}")


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


def write_results(
    rows: list[dict[str, Any]], stem: Path, meta: dict[str, Any], plot_title: str | None = None
) -> None:
    """``<stem>.json`` (meta + every row with its history) and ``<stem>.csv`` (one line per run,
    :data:`CSV_KEYS`), each written atomically; with ``plot_title`` also ``<stem>.png``, the
    accuracy of each method against T (:func:`eventsnn.viz.plot_method_accuracy`)."""
    meta = {**meta, "machine": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads()}
    write_json(stem.with_suffix(".json"), {"meta": meta, "results": rows}, indent=1)
    write_csv(stem.with_suffix(".csv"), rows, CSV_KEYS)
    if plot_title is not None:
        plot_method_accuracy(rows, stem.with_suffix(".png"), plot_title)


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
