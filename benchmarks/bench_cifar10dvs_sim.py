"""Simulated CIFAR10-DVS accuracy against time steps: eventsnn vs SpikingJelly's PLIF recipe.

The recordings are simulated by the eventsnn saccade simulator from the real CIFAR-10 images of
the shared data folder (``simulated_cifar10dvs``: 10,000 train / 5,000 test, 128x128 sensor,
grey images up-sampled to 112x112). They are compressed once to an HDF5 file of STC frames at
T = 4 with 4x spatial down-sampling (sum mode, so T = 2 and T = 1 are exact sums of adjacent
frames, computed here)::

    eventsnn compress --dataset cifar10dvs-sim --T 4 --spatial-factor 4 --workers 2 \\
        --out /work/scratch/cifar10dvs_sim_T4_sf4.h5

Both methods then get the same 32x32 frames (2 polarities), train on the 10,000 train
recordings with the same loop, 2 threads and CPU budget (default 2,400 CPU-s = 20 min on 2
cores; a recipe whose epochs do not fit is shortened after its first epoch and its cosine
schedule refitted, see ``_accuracy.py``), and are evaluated on the 5,000 test recordings:

- ``plif`` - Fang et al.'s recipe: preset ``plif`` ({Conv128-BN-PLIF-MaxPool} x 2, FC2048-PLIF,
  FC100-PLIF, voting) on the 32x32 input, Adam 1e-3, cosine, batch 16, 15 epochs, MSE loss.
  (At 128x128 its FC layer alone would have 268 M weights - not trainable on 2 CPU cores, hence
  the common 32x32 input.) Its frames are the STC sum frames, which equal Tonic
  ``ToFrame(n_time_bins=T)`` + 4x4 sum pooling up to the last event of each recording that
  ToFrame drops (measured on N-MNIST: 1.0-1.1 of ~4,000 events per recording differ).
- ``eventsnn`` - preset ``cifar10dvs`` (4 blocks of 64 channels, SCB, MT-LIF) with the
  overrides in :data:`EVENTSNN`.

Outputs ``benchmarks/results/cifar10dvs_sim_accuracy.{json,csv,png}`` and a printed table.

Full run::

    .venv/bin/python benchmarks/bench_cifar10dvs_sim.py --data /work/scratch/cifar10dvs_sim_T4_sf4.h5

Reduced run (the figures in the README: 200 train / 100 test recordings per class simulated in
this process, 420 CPU-s per training)::

    .venv/bin/python benchmarks/bench_cifar10dvs_sim.py --per-class 200 100 --budget-cpu-s 420

The full run was not made (15,000 simulated recordings, 6 x 20 min). ``--quick`` (no ``--data`` needed) simulates 200 train / 100
test recordings itself and trains 1 epoch: a smoke test of a few minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _accuracy import (  # noqa: E402
    Recipe,
    row_summary,
    table,
    train_and_evaluate,
    write_results,
)

from eventsnn.datasets import CompressedDataset, open_split  # noqa: E402
from eventsnn.datasets.frames import selection_frames  # noqa: E402
from eventsnn.errors import InvalidParameterError  # noqa: E402
from eventsnn.transforms import STC  # noqa: E402
from eventsnn.viz import plot_method_accuracy  # noqa: E402

warnings.filterwarnings("ignore", message=".*Triton.*")

RESULTS = Path(__file__).resolve().parent / "results"
T_FILE = 4

#: eventsnn's settings on this data set (preset ``cifar10dvs`` + overrides).
EVENTSNN = Recipe(
    name="eventsnn",
    preset="cifar10dvs",
    model={"n_thresholds": 2, "scb": "first"},
    epochs=15,
    batch_size=32,
    lr=1e-3,
    weight_decay=0.01,
    optimizer="adamw",
    loss="ce",
    label_smoothing=0.1,
    augment="shift=2",
)

#: SpikingJelly's PLIF recipe on the same 32x32 frames.
PLIF = Recipe(
    name="plif",
    preset="plif",
    model={"sensor_size": [128, 128], "spatial_factor": 4},
    epochs=15,
    batch_size=16,
    lr=1e-3,
    optimizer="adam",
    loss="mse",
)


def pool_time(x: torch.Tensor, T: int) -> torch.Tensor:
    """Sum adjacent frames: ``[N, T0, P, H, W]`` -> ``[N, T, P, H, W]`` (``T`` divides ``T0``).

    Exact for sum-mode STC: the fine bin of an event at T0 is ``floor(T0 u)`` and
    ``floor(floor(T0 u) / (T0 / T)) = floor(T u)``.
    """
    n, t0 = x.shape[:2]
    if t0 % T:
        raise InvalidParameterError(f"T={T} does not divide the {t0} frames of the file")
    return x.reshape(n, T, t0 // T, *x.shape[2:]).sum(2)


def load_file(path: str) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    train = CompressedDataset(path, "train")
    test = CompressedDataset(path, "test")
    stc = train.stc
    if stc.mode != "sum" or stc.ratio != 1 or stc.merge_polarity or stc.spatial_factor != 4:
        raise InvalidParameterError(f"{path}: need sum-mode frames, ratio 1, spatial factor 4, 2 polarities; got {stc}")
    if train.T % 4:
        raise InvalidParameterError(f"{path}: need T divisible by 4, got {train.T}")
    def xy(ds: CompressedDataset) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.ascontiguousarray(ds.all_frames())), torch.from_numpy(ds.targets)
    return xy(train), xy(test)


def simulate_small(root: str | None, per_class_train: int, per_class_test: int):
    out = []
    for split, k in (("train", per_class_train), ("test", per_class_test)):
        ds, idx = open_split("cifar10dvs-sim", root, split, limit=10 * k, progress=True)  # k per class
        frames = selection_frames(ds, idx, STC(ds.sensor_size, T_FILE, spatial_factor=4), progress=True)
        out.append((frames.x, frames.y))
    return out[0], out[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="HDF5 from `eventsnn compress --dataset cifar10dvs-sim --T 4 --spatial-factor 4`")
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--methods", nargs="+", default=["eventsnn", "plif"], choices=["eventsnn", "plif"])
    ap.add_argument("--root", default=None, help="shared data folder (only for --quick)")
    ap.add_argument("--budget-cpu-s", type=float, default=2400.0, help="CPU seconds per run (2 cores x 20 min)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, nargs=2, default=None, metavar=("TRAIN", "TEST"),
                    help="simulate this many train / test recordings per class here instead of --data")
    ap.add_argument("--quick", action="store_true", help="smoke test: simulate 300 recordings, 1 epoch")
    ap.add_argument("--out", default=None, help="output stem (default results/cifar10dvs_sim_accuracy[_quick])")
    args = ap.parse_args(argv)

    recipes = {"eventsnn": EVENTSNN, "plif": PLIF}
    t_all = time.perf_counter()
    if args.quick:
        recipes = {k: dataclasses.replace(r, epochs=1) for k, r in recipes.items()}
        (xtr, ytr), (xte, yte) = simulate_small(args.root, 20, 10)
    elif args.per_class is not None:
        (xtr, ytr), (xte, yte) = simulate_small(args.root, *args.per_class)
    elif args.data is None:
        print("--data is required (or --quick); make the file with:\n  eventsnn compress --dataset "
              "cifar10dvs-sim --T 4 --spatial-factor 4 --workers 2 --out <file.h5>", file=sys.stderr)
        return 2
    else:
        (xtr, ytr), (xte, yte) = load_file(args.data)
    stem = Path(args.out) if args.out else RESULTS / (
        "cifar10dvs_sim_accuracy_quick" if args.quick else "cifar10dvs_sim_accuracy")
    print(f"simulated CIFAR10-DVS: train {len(ytr)}, test {len(yte)}, frames {tuple(xtr.shape[1:])}", flush=True)
    rows = []
    for T in args.T:
        tr, te = (pool_time(xtr, T), ytr), (pool_time(xte, T), yte)
        for name in args.methods:
            row = train_and_evaluate(recipes[name], T, tr, te, budget_cpu_s=args.budget_cpu_s,
                                     seed=args.seed, threads=args.threads)
            rows.append(row)
            print(row_summary(f"{name:<9}", row), flush=True)
            meta = {"benchmark": "bench_cifar10dvs_sim", "argv": sys.argv[1:], "quick": args.quick,
                    "data": args.data, "per_class": args.per_class, "n_train": len(ytr), "n_test": len(yte),
                    "budget_cpu_s": args.budget_cpu_s, "total_wall_s": round(time.perf_counter() - t_all, 1)}
            write_results(rows, stem, meta)
            plot_method_accuracy(rows, stem.with_suffix(".png"),
                         f"simulated CIFAR10-DVS (32x32), {len(ytr)} train / {len(yte)} test recordings")
    print()
    print(table(rows))
    print(f"\nwrote {stem}.json/.csv/.png; total {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
