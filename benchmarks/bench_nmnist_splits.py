"""How much a single 199-recording hold-out says: eventsnn's N-MNIST accuracy over several splits.

``bench_nmnist.py`` scores one hold-out (split seed 1) and eventsnn's settings were chosen on
another (seed 0). With 199 recordings one recording is 0.5 points, so a single split can be
lucky or unlucky by a few points. This script trains eventsnn with the settings of
``eventsnn.bench.methods.eventsnn_settings(T)`` (one :func:`eventsnn.bench.methods.run_eventsnn`
per split, i.e. one ``eventsnn train``) on the hold-outs of ``--seeds`` (``stratified_split(labels, 0.2, seed)``:
801 training / 199 held-out recordings each) and reports, per T, the accuracy of each split and
their mean and standard deviation. The splits overlap (they are repeated random hold-outs, not
disjoint folds); each is a fair estimate on recordings its model never saw.

Writes ``benchmarks/results/nmnist_splits.{json,csv,png}``::

    .venv/bin/python benchmarks/bench_nmnist_splits.py --T 1 2 --seeds 0 1 2 3 4 --epochs 15

``--compact`` trains eventsnn's compact variant instead (64 channels, synaptic-operation penalty;
``eventsnn.bench.methods.COMPACT_*``) and writes ``nmnist_splits_compact.*``.

``--rows FILE ...`` aggregates the rows of earlier ``bench_nmnist_settings.py`` outputs (JSON)
instead of training, for the setting each T uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from eventsnn.bench.methods import (
    NMNIST_HOLDOUT,
    BenchRun,
    earlier_rows,
    eventsnn_settings,
    row_summary,
    run_eventsnn,
    write_results,
)
from eventsnn.datasets import hold_out, open_split
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).resolve().parent / "results"

warnings.filterwarnings("ignore", message=".*Triton.*")


def summary(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per T: the splits' accuracies, their mean and (sample) standard deviation."""
    out = {}
    for T in sorted({r["T"] for r in rows}):
        accs = [100 * r["accuracy"] for r in sorted((r for r in rows if r["T"] == T), key=lambda r: r["split_seed"])]
        out[T] = {"seeds": sorted(r["split_seed"] for r in rows if r["T"] == T), "accuracy_pct": accs,
                  "mean_pct": statistics.mean(accs), "std_pct": statistics.stdev(accs) if len(accs) > 1 else 0.0}
    return out


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    s = summary(rows)
    fig = new_figure((6.5, 4))
    ax = fig.subplots()
    for i, d in enumerate(s.values()):
        at: dict[float, list[int]] = {}  # splits with the same accuracy share one label
        for seed, a in zip(d["seeds"], d["accuracy_pct"], strict=True):
            at.setdefault(round(a, 2), []).append(seed)
        for a, seeds in at.items():
            ax.plot(i, a, "o", color="tab:blue", alpha=0.6, markersize=5 + 2 * len(seeds))
            label = ("seeds " if len(seeds) > 1 else "seed ") + ", ".join(map(str, seeds))
            ax.annotate(label, (i, a), textcoords="offset points", xytext=(8, -3), fontsize=7)
        ax.errorbar(i + 0.25, d["mean_pct"], yerr=d["std_pct"], fmt="s", color="black", capsize=4)
        ax.annotate(f"mean {d['mean_pct']:.1f}%", (i + 0.25, d["mean_pct"]), textcoords="offset points",
                    xytext=(7, -3), fontsize=8)
    targets = {1: 97.0, 2: 98.0}
    for i, T in enumerate(s):
        if T in targets:
            ax.hlines(targets[T], i - 0.3, i + 0.6, colors="tab:red", linestyles=":", label="issue target" if i == 0 else None)
    ax.set_xticks(range(len(s)), [f"T = {T}" for T in s])
    ax.set_xlim(-0.5, len(s) - 0.2)
    ax.set_ylabel("held-out accuracy (%), 199 per split")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save(fig, path, 120)


def rows_from_files(files: list[str]) -> list[dict[str, Any]]:
    """Rows of ``bench_nmnist_settings.py`` outputs whose settings are those of their T."""
    rows = []
    for f in files:
        doc = json.loads(Path(f).read_text())
        seed = doc["meta"]["split"]["seed"]
        for r in doc["results"]:
            cfg = r["recipe"]["train_config"]
            want = eventsnn_settings(r["T"])
            if all(cfg.get(k) == v for k, v in want.items()):
                rows.append({**r, "split_seed": seed, "source": str(f)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--root", default=None)
    ap.add_argument("--runs", default="runs/bench_nmnist_splits")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="training seed (the same for every split)")
    ap.add_argument("--budget-cpu-s", type=float, default=2400.0)
    ap.add_argument("--rows", nargs="*", default=None, help="aggregate these bench_nmnist_settings JSON files")
    ap.add_argument("--out", default=None)
    ap.add_argument("--compact", action="store_true",
                    help="train eventsnn's compact variant (eventsnn.bench.methods.eventsnn_settings(T, compact=True)); "
                    "default output results/nmnist_splits_compact")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the existing results file for the T this run does not redo")
    args = ap.parse_args(argv)
    args.limit = None
    stem = Path(args.out) if args.out else RESULTS / ("nmnist_splits_compact" if args.compact else "nmnist_splits")
    t_all = time.perf_counter()
    if args.rows:
        rows = [r for r in rows_from_files(args.rows) if r["T"] in args.T and r["split_seed"] in args.seeds]
        epochs = sorted({r["epochs_done"] for r in rows})
    else:
        ds, idx = open_split("nmnist", args.root, "train")  # as eventsnn.train opens it
        rows, epochs = [], [args.epochs]
        for T in args.T:
            for seed in args.seeds:
                _, hold = hold_out(ds, idx, NMNIST_HOLDOUT, seed=seed)
                row = run_eventsnn(T, BenchRun.from_args(args, split_seed=seed), hold, False, epochs=args.epochs,
                                   settings=eventsnn_settings(T, compact=args.compact),
                                   tag=f"T{T}_split{seed}")
                row["split_seed"] = seed
                rows.append(row)
                print(row_summary(f"T={T} split seed {seed}", row), flush=True)
    if args.merge:
        kept = earlier_rows(stem, {}, lambda r: r["T"] in args.T)
        rows += kept
        epochs = sorted({*epochs, *(r["epochs_done"] for r in kept)})
    rows.sort(key=lambda r: (r["T"], r["split_seed"]))
    s = summary(rows)
    meta = {"benchmark": "bench_nmnist_splits", "argv": sys.argv[1:], "holdout_fraction": NMNIST_HOLDOUT,
            "epochs": epochs, "settings": {T: eventsnn_settings(T, compact=args.compact) for T in s},
            "summary": s,
            "total_wall_s": round(time.perf_counter() - t_all, 1)}
    write_results(rows, stem, meta)
    plot(rows, stem.with_suffix(".png"),
         f"eventsnn{' compact' if args.compact else ''} on N-MNIST, {len(args.seeds)} random 801 / 199 splits, "
         f"{'/'.join(map(str, epochs))} epochs")
    for T, d in s.items():
        per = ", ".join(f"seed {k}: {a:.1f}%" for k, a in zip(d["seeds"], d["accuracy_pct"], strict=True))
        print(f"T={T}: mean {d['mean_pct']:.1f}% ± {d['std_pct']:.1f} ({per})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
