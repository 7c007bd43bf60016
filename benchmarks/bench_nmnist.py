"""N-MNIST accuracy against time steps: eventsnn (STC + SCB + MT-LIF) vs SpikingJelly's PLIF recipe.

Side by side on the same real recordings: the 1,000 N-MNIST recordings of ``NMNIST/Train`` in the
shared data folder, split once with ``stratified_split(labels, 0.2, seed=--split-seed)`` (default 1;
eventsnn's settings were explored on seed 0's hold-out, so seed 1's was not used for tuning) into 801 training
and 199 held-out test recordings (no recording of the test part is used for training, tuning
stops or checkpoint choice: the model after the last epoch is evaluated). For each T in
{1, 2, 4} both methods train with 2 threads and the same budget (20 min on 2 cores = 2,400
CPU-seconds of this process, ``TrainConfig.budget_cpu_s``), then are evaluated on the same 199
recordings. Both methods are defined in :mod:`eventsnn.bench.methods` and trained by
:func:`eventsnn.train.train`.

- ``plif`` - the reference recipe of Fang et al. 2021 (SpikingJelly; recipe ``plif``): preset ``plif``
  ({Conv128-BN-PLIF-MaxPool} x 2, FC2048-PLIF, FC100-PLIF, voting), frames from Tonic
  ``ToFrame(n_time_bins=T)``, Adam lr 1e-3, cosine schedule over 15 epochs, batch 16, MSE of the
  voting rates to one-hot targets, no augmentation, no pre-training
  (:func:`eventsnn.bench.methods.run_plif`).
- ``eventsnn`` - trained by :func:`eventsnn.train.train` (i.e. ``eventsnn train``; the exact
  command is printed and stored) with preset ``nmnist`` + the overrides of
  :func:`eventsnn.bench.methods.eventsnn_settings` (the recipe table's, and at T = 1 and 2 exponential
  STC with 8 fine frames per output frame), pre-trained on simulated N-MNIST first
  (``EVENTSNN_PRETRAIN_EPOCHS``), on the same 801 recordings (``--val-split holdout --val-fraction 0.2
  --split-seed 1``, checked to be the same 199 held-out recordings); its accuracy is that of the
  last epoch on them (``best.pt``, chosen on these recordings, is not used). Its epochs are set so
  that the run stays inside the budget (the CPU time is measured and reported).

Outputs: ``benchmarks/results/nmnist_accuracy.{json,csv,png}`` and a printed table.

Full run (all 6 trainings, one after the other)::

    .venv/bin/python benchmarks/bench_nmnist.py

It took 100 min on 2 cores shared with other jobs (load 4-6). ``--quick`` is a smoke test (120 training / 60 test recordings,
1 epoch, writes ``nmnist_accuracy_quick.*``; about a minute); ``--T 1`` or ``--methods eventsnn``
(with ``--merge`` to keep the other rows of the results file)
run a part.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from eventsnn.bench.methods import (
    NMNIST_HOLDOUT,
    BenchRun,
    earlier_rows,
    row_summary,
    run_eventsnn,
    run_plif,
    table,
    write_results,
)
from eventsnn.datasets import hold_out, open_split

warnings.filterwarnings("ignore", message=".*Triton.*")

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--methods", nargs="+", default=["eventsnn", "plif"], choices=["eventsnn", "plif"])
    BenchRun.add_arguments(ap, "runs/bench_nmnist", split_seed=True)
    ap.add_argument("--quick", action="store_true", help="smoke test: 180 recordings, 1 epoch")
    ap.add_argument("--out", default=None, help="output stem (default results/nmnist_accuracy[_quick])")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the existing results file that this run does not redo")
    args = ap.parse_args(argv)
    args.limit = 180 if args.quick else None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = BenchRun.from_args(args)
    stem = Path(args.out) if args.out else RESULTS / ("nmnist_accuracy_quick" if args.quick else "nmnist_accuracy")

    ds, idx = open_split("nmnist", args.root, "train", args.limit)  # as eventsnn.train opens it
    keep, hold = hold_out(ds, idx, NMNIST_HOLDOUT if not args.quick else 1 / 3, seed=args.split_seed)
    print(f"N-MNIST: {len(idx)} real recordings -> train {len(keep)}, held-out test {len(hold)}", flush=True)
    rows: list[dict[str, Any]] = []
    if args.merge:
        rows = earlier_rows(stem, {"split.seed": args.split_seed},
                            lambda r: r["method"] in args.methods and r["T"] in args.T)
    t_all = time.perf_counter()
    for T in args.T:
        for name in args.methods:
            if name == "eventsnn":
                row = run_eventsnn(T, run, hold, args.quick)
                print("  " + "\n  ".join(row["commands"]), flush=True)
            else:
                row = run_plif(T, run, ds, idx, keep, hold, epochs=1 if args.quick else None)
            rows.append(row)
            rows.sort(key=lambda r: (r["T"], r["method"]))
            print(row_summary(f"{name:<9}", row), flush=True)
            meta = {
                "benchmark": "bench_nmnist", "argv": sys.argv[1:], "quick": args.quick,
                "split": {"fn": "eventsnn.datasets.stratified_split", "holdout_fraction": NMNIST_HOLDOUT, "seed": args.split_seed,
                          "n_train": len(keep), "n_test": len(hold)},
                "budget_cpu_s": args.budget_cpu_s, "total_wall_s": round(time.perf_counter() - t_all, 1),
            }
            write_results(rows, stem, meta,
                          f"N-MNIST, {len(keep)} real recordings for training, {len(hold)} held out")
    print()
    print(table(rows))
    print(f"\nwrote {stem}.json/.csv/.png; total {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
