"""Which settings to train simulated CIFAR10-DVS with: candidates at equal CPU cost, on a hold-out.

Chooses the ``cifar10dvs-sim`` recipe (:mod:`eventsnn.train.recipes`) without touching the
simulated test split: every candidate trains through :func:`eventsnn.train.train` on the same
``--per-class`` x 10 simulated *training* recordings (``--limit``), of which the same
``--val-fraction`` (stratified, ``--split-seed``) is held out and validated on; the model after
the last epoch is reported (not the best epoch). Each candidate gets the same CPU budget
(``--budget-cpu-s``, ``TrainConfig.budget_cpu_s``: the epochs that fit, the cosine schedule
fitted to them; the per-epoch validation counts in it) on one thread. The recordings are
simulated once, before the first candidate, and kept in memory
(:func:`eventsnn.datasets.open_split`), so no candidate pays for the simulation; each pays for
its own STC frames.

Candidates (:data:`CANDIDATES`, ``TrainConfig`` fields on top of ``recipe="none"``):

- ``defaults``: the bare defaults (``--recipe none``: preset ``cifar10dvs`` = 4 blocks of 64
  channels, K = 1, SCB nowhere; sum STC, batch 16, Adam 1e-3, cosine);
- ``bench``: the settings of ``bench_cifar10dvs_sim.py`` (K = 2, SCB first, batch 32, AdamW 1e-3
  with weight decay 0.01, label smoothing 0.1, shift +-2 px);
- ``nmnist-style``: the N-MNIST recipe's settings (K = 2, SCB first, log(1 + x) input, exp STC
  with 8 fine frames per step, batch 32, Adam 1e-3, label smoothing 0.1, shift +-2 px and
  rotation +-15 deg);
- single changes of ``nmnist-style``: ``nmnist-style, sum STC`` and ``nmnist-style, shift only``;
- changes of ``defaults`` (which over-fits: 89% of its training recordings right, 49% of the
  held-out ones): ``defaults + shift, smoothing`` (shift +-2 px, label smoothing 0.1) and
  ``defaults + exp STC, log1p`` (the N-MNIST recipe's input: exp STC ratio 8, log(1 + x)).

Outputs ``benchmarks/results/cifar10dvs_sim_recipes.{json,csv,png}`` (``--merge`` keeps the rows of
an earlier file measured the same way that this run does not redo) and a printed table::

    .venv/bin/python benchmarks/bench_cifar10dvs_sim_recipes.py --threads 1
    .venv/bin/python benchmarks/bench_cifar10dvs_sim_recipes.py --threads 1 --merge \\
        --candidates nmnist-style --T 1 2

``--quick``: 20 recordings per class, 60 CPU-s per candidate (a smoke test).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from eventsnn.bench.methods import (
    BenchRun,
    earlier_rows,
    result_row,
    row_summary,
    table,
    train_command,
    write_results,
)
from eventsnn.datasets import open_split
from eventsnn.train import TrainConfig, train
from eventsnn.viz import new_figure, save

warnings.filterwarnings("ignore", message=".*Triton.*")

RESULTS = Path(__file__).resolve().parent / "results"
DATASET = "cifar10dvs-sim"

_NMNIST_STYLE: dict[str, Any] = {
    "preset": "cifar10dvs", "model": {"n_thresholds": 2, "scb": "first", "input_transform": "log1p"},
    "ratio": 8, "mode": "exp", "decay": 0.5, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0,
    "label_smoothing": 0.1, "augment": "shift=2,rotation=15",
}
#: candidate -> ``TrainConfig`` fields (on top of ``recipe="none"``, the bare defaults)
CANDIDATES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "bench": {"preset": "cifar10dvs", "model": {"n_thresholds": 2, "scb": "first"}, "batch_size": 32,
              "optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.01, "loss": "ce", "label_smoothing": 0.1,
              "augment": "shift=2"},
    "nmnist-style": _NMNIST_STYLE,
    "nmnist-style, sum STC": {**_NMNIST_STYLE, "ratio": 1, "mode": "sum"},
    "nmnist-style, shift only": {**_NMNIST_STYLE, "augment": "shift=2"},
    "defaults + shift, smoothing": {"augment": "shift=2", "label_smoothing": 0.1},
    "defaults + exp STC, log1p": {"ratio": 8, "mode": "exp", "decay": 0.5, "model": {"input_transform": "log1p"}},
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    BenchRun.add_arguments(ap, "runs/bench_cifar10dvs_sim_recipes", split_seed=True)
    ap.set_defaults(budget_cpu_s=420.0, threads=1, split_seed=0)
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    ap.add_argument("--T", type=int, nargs="+", default=[4])
    ap.add_argument("--per-class", type=int, default=200, help="simulated training recordings per class")
    ap.add_argument("--val-fraction", type=float, default=0.2, help="fraction of them held out")
    ap.add_argument("--merge", action="store_true", help="keep the other rows of an earlier results file")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20 recordings per class, 60 CPU-s each")
    ap.add_argument("--out", default=None, help="output stem (default results/cifar10dvs_sim_recipes[_quick])")
    return ap.parse_args(argv)


def candidate_config(name: str, T: int, run: BenchRun, limit: int, val_fraction: float) -> TrainConfig:
    """The training run of candidate ``name`` at ``T`` on ``limit`` simulated training recordings."""
    return TrainConfig(dataset=DATASET, root=run.root, limit=limit, val_split="holdout", val_fraction=val_fraction,
                       split_seed=run.split_seed, T=T, seed=run.seed, threads=run.threads,
                       budget_cpu_s=run.budget_cpu_s, progress=False, overwrite=True,
                       out=str(Path(run.runs) / f"{name.replace(', ', '_').replace(' ', '_')}_T{T}"),
                       recipe="none", **CANDIDATES[name])


def run_candidate(name: str, T: int, run: BenchRun, limit: int, val_fraction: float) -> dict[str, Any]:
    """Train candidate ``name`` at ``T``; its result row (accuracy on the hold-out after the last epoch)."""
    cfg = candidate_config(name, T, run, limit, val_fraction)
    t0, c0 = time.perf_counter(), time.process_time()
    load0 = os.getloadavg()[0]
    res = train(cfg)
    row = result_row(name, res, time.perf_counter() - t0, time.process_time() - c0, load0,
                     epochs_planned=int(res.config.epochs or 0))
    row.update(command=train_command(res.config), settings=CANDIDATES[name],
               budget_cpu_s=run.budget_cpu_s)
    return row


def plot_candidates(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Hold-out accuracy (%) after each epoch against the run's CPU-seconds, one panel per T (largest
    first), one line per candidate, its colour the same in every panel (the last point: the
    reported, last-epoch model)."""
    Ts = sorted({r["T"] for r in rows}, reverse=True)
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(r["method"] for r in rows))}
    fig = new_figure((max(7.5, 4.2 * len(Ts) + 1), 4.4))
    axes = fig.subplots(1, len(Ts), sharey=True, squeeze=False)[0]
    for ax, T in zip(axes, Ts, strict=True):
        for r in (r for r in rows if r["T"] == T):
            cpu = [h["cpu_s"] for h in r["history"]]
            acc = [100 * h["val_acc"] for h in r["history"]]
            ax.plot(cpu, acc, marker="o", ms=3, color=colours[r["method"]],
                    label=f"{r['method']}: {100 * r['accuracy']:.1f}%")
        ax.set_title(f"T = {T}", fontsize=10)
        ax.set_xlabel("CPU-seconds of the run (1 thread)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel(f"hold-out accuracy (%), n = {rows[0]['n_test'] if rows else 0}")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path, 120)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.per_class, args.budget_cpu_s = 20, 60.0
    run = BenchRun.from_args(args)
    torch.set_num_threads(run.threads)
    limit = 10 * args.per_class  # --limit counts recordings of all 10 classes
    stem = Path(args.out) if args.out else RESULTS / ("cifar10dvs_sim_recipes_quick" if args.quick
                                                      else "cifar10dvs_sim_recipes")
    meta = {"benchmark": "bench_cifar10dvs_sim_recipes", "dataset": DATASET, "per_class": args.per_class,
            "limit": limit, "val_fraction": args.val_fraction, "split_seed": run.split_seed, "seed": run.seed,
            "budget_cpu_s": run.budget_cpu_s, "threads": run.threads, "quick": args.quick}
    todo = {(c, T) for c in args.candidates for T in args.T}
    rows = earlier_rows(stem, {k: meta[k] for k in ("per_class", "val_fraction", "split_seed", "seed", "budget_cpu_s")},
                        lambda r: (r["method"], r["T"]) in todo) if args.merge else []
    c0 = time.process_time()
    ds, idx = open_split(DATASET, run.root, "train", limit, progress=True, training=True)
    for i in idx:  # simulate every recording once, before any candidate's clock starts
        ds.read(int(i))
    print(f"simulated {len(idx)} training recordings in {time.process_time() - c0:.0f} CPU-s", flush=True)
    for T in args.T:
        for name in args.candidates:
            row = run_candidate(name, T, run, limit, args.val_fraction)
            print(row_summary(f"{name:<26}", row), "\n  ", row["command"], flush=True)
            rows = [r for r in rows if (r["method"], r["T"]) != (name, T)] + [row]
            write_results(rows, stem, {**meta, "argv": sys.argv[1:]})
            plot_candidates(rows, stem.with_suffix(".png"),
                            f"simulated CIFAR10-DVS: {limit} training recordings, {args.val_fraction:.0%} held out "
                            f"(split seed {run.split_seed}), "
                            f"{run.budget_cpu_s:g} CPU-s each")
    print()
    print(table(rows))
    print(f"\nwrote {stem}.json/.csv/.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
