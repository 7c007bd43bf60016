"""Which eventsnn settings matter at T = 1 on real N-MNIST: K, SCB placement, STC mode, pre-training.

One training per setting, each through :func:`eventsnn.train.train` (the ``eventsnn train``
command of each run is printed and stored) on the same 801 real recordings, evaluated after its
last epoch on the same 199 held-out recordings as ``bench_nmnist.py`` (``stratified_split``,
``--split-seed``, default 1). Every setting starts from :data:`BASE`, eventsnn's settings before
session 4 (K = 2, SCB on the first block, sum STC, shift augmentation, label smoothing; no log1p
input, no rotation) and changes one thing:

- ``K=1`` / ``K=4``: number of thresholds of the MT-LIF neurons (K = 1 is a plain PLIF neuron);
- ``SCB none`` / ``SCB all``: no synaptic current / synaptic current in every conv block;
- ``exp STC``: 4 fine frames per output frame compressed as an exponentially decaying current
  (``--ratio 4 --mode exp --decay 0.5``) instead of summed;
- ``sim pre-training``: first 2 epochs on the 9,000 N-MNIST-like recordings simulated from the
  real MNIST test images (``nmnist-sim``), then the same fine-tuning on the real recordings.

All runs use the same number of epochs (``--epochs``, default 30), 2 threads, seed 0.
Outputs ``benchmarks/results/nmnist_settings.{json,csv,png}`` and a printed table::

    .venv/bin/python benchmarks/bench_nmnist_settings.py
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from eventsnn.bench.methods import (
    EVENTSNN,
    NMNIST_HOLDOUT,
    BenchRun,
    earlier_rows,
    row_summary,
    run_eventsnn,
    write_results,
)
from eventsnn.datasets import hold_out, open_split
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).resolve().parent / "results"
#: the base every setting changes one thing of (``eventsnn.bench.methods.EVENTSNN`` before session 4)
BASE: dict = {**EVENTSNN, "model": {"n_thresholds": 2, "scb": "first"}, "augment": "shift=2"}

warnings.filterwarnings("ignore", message=".*Triton.*")

#: name -> (changes to BASE, pre-training epochs on nmnist-sim)
SETTINGS: dict[str, tuple[dict[str, Any], int]] = {
    "base (K=2, SCB first, sum)": ({}, 0),
    "K=1": ({"model": {"n_thresholds": 1, "scb": "first"}}, 0),
    "K=4": ({"model": {"n_thresholds": 4, "scb": "first"}}, 0),
    "SCB none": ({"model": {"n_thresholds": 2, "scb": "none"}}, 0),
    "SCB all": ({"model": {"n_thresholds": 2, "scb": "all"}}, 0),
    "exp STC (ratio 4, decay 0.5)": ({"ratio": 4, "mode": "exp", "decay": 0.5}, 0),
    "exp STC (ratio 2, decay 0.5)": ({"ratio": 2, "mode": "exp", "decay": 0.5}, 0),
    "exp STC (ratio 8, decay 0.5)": ({"ratio": 8, "mode": "exp", "decay": 0.5}, 0),
    "exp STC (ratio 4, decay 0.8)": ({"ratio": 4, "mode": "exp", "decay": 0.8}, 0),
    "sim pre-training (2 epochs)": ({}, 2),
}


def plot(rows: list[dict[str, Any]], path: Path, title: str, T: int = 1) -> None:
    import textwrap

    names = [r["setting"] for r in rows]
    acc = [100 * r["accuracy"] for r in rows]
    fig = new_figure((7.5, 0.45 * len(rows) + 1.2))
    ax = fig.subplots()
    bars = ax.barh(range(len(rows)), acc, color="tab:blue")
    for b, a in zip(bars, acc, strict=True):
        ax.text(a + 0.1, b.get_y() + b.get_height() / 2, f"{a:.1f}%", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    lo = min(acc)
    ax.set_xlim(max(0.0, lo - 5), 100)
    ax.set_xlabel(f"held-out accuracy at T = {T} (%)")
    ax.set_title("\n".join(textwrap.wrap(title, 90)), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save(fig, path, 120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="run only these setting names")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--T", type=int, default=1)
    BenchRun.add_arguments(ap, "runs/bench_nmnist_settings", split_seed=True)
    ap.add_argument("--quick", action="store_true", help="smoke test: 180 recordings, 1 epoch")
    ap.add_argument("--out", default=None)
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the existing results file (same T, split and epochs) not redone")
    args = ap.parse_args(argv)
    args.limit = 180 if args.quick else None
    stem = Path(args.out) if args.out else RESULTS / ("nmnist_settings_quick" if args.quick else "nmnist_settings")

    ds, idx = open_split("nmnist", args.root, "train", args.limit)  # as eventsnn.train opens it
    keep, hold = hold_out(ds, idx, NMNIST_HOLDOUT if not args.quick else 1 / 3, seed=args.split_seed)
    rows: list[dict[str, Any]] = []
    if args.merge:
        redo = set(SETTINGS) if args.only is None else set(args.only)
        rows = earlier_rows(stem, {"split.seed": args.split_seed, "epochs": args.epochs, "T": args.T},
                            lambda r: r["setting"] in redo, defaults={"T": 1})
    t_all = time.perf_counter()
    for k, (name, (change, pre)) in enumerate(SETTINGS.items()):
        if args.only is not None and name not in args.only:
            continue
        settings = {**BASE, **change}
        row = run_eventsnn(args.T, BenchRun.from_args(args), hold, args.quick, settings=settings,
                           epochs=args.epochs, pre_epochs=pre, tag=f"setting{k}_T{args.T}")
        row["setting"] = name
        row["method"] = f"eventsnn {name}"
        rows.append(row)
        order = list(SETTINGS)
        rows.sort(key=lambda r: order.index(r["setting"]) if r["setting"] in order else len(order))
        print(row_summary(f"{name:<30}", row), flush=True)
        print("  " + "\n  ".join(row["commands"]), flush=True)
        meta = {"benchmark": "bench_nmnist_settings", "argv": sys.argv[1:], "quick": args.quick,
                "split": {"fn": "eventsnn.datasets.stratified_split", "holdout_fraction": NMNIST_HOLDOUT,
                          "seed": args.split_seed, "n_train": len(keep), "n_test": len(hold)},
                "epochs": args.epochs, "T": args.T, "total_wall_s": round(time.perf_counter() - t_all, 1)}
        write_results(rows, stem, meta)
        plot(rows, stem.with_suffix(".png"),
             f"N-MNIST T={args.T}, split seed {args.split_seed}: {len(keep)} real recordings for training, "
             f"{len(hold)} held out, {args.epochs} epochs each", args.T)
    print()
    for r in rows:
        print(f"| {r['setting']} | {100 * r['accuracy']:.1f}% ({r['correct']}/{r['n_test']}) | "
              f"{r['train_cpu_s']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
