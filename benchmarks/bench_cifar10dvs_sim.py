"""Simulated CIFAR10-DVS accuracy against time steps: eventsnn vs SpikingJelly's PLIF recipe.

The recordings are simulated by the eventsnn saccade simulator from the real CIFAR-10 images of
the shared data folder (``simulated_cifar10dvs``: 10,000 train / 5,000 test, 128x128 sensor,
grey images up-sampled to 112x112). They are compressed once to an HDF5 file of STC frames at
T = 4 with 4x spatial down-sampling (sum mode, so T = 2 and T = 1 are exact sums of adjacent
frames, computed here)::

    eventsnn compress --dataset cifar10dvs-sim --T 4 --spatial-factor 4 --workers 2 \\
        --out /work/scratch/cifar10dvs_sim_T4_sf4.h5

Both methods then get the same 32x32 frames (2 polarities), train on the 10,000 train
recordings through :func:`eventsnn.train.train` (:func:`eventsnn.bench.methods.train_on_frames`)
with 2 threads and the same CPU budget (default 2,400 CPU-s = 20 min on 2 cores,
``TrainConfig.budget_cpu_s``: a method whose epochs do not fit is shortened after its first epoch
and its cosine schedule refitted; the per-epoch evaluation on the test frames counts in it), and
are evaluated on the 5,000 test recordings after their last epoch:

- ``plif`` - Fang et al.'s recipe (recipe ``plif``): preset ``plif`` ({Conv128-BN-PLIF-MaxPool} x 2, FC2048-PLIF,
  FC100-PLIF, voting) on the 32x32 input, Adam 1e-3, cosine, batch 16, 15 epochs, MSE loss.
  (At 128x128 its FC layer alone would have 268 M weights - not trainable on 2 CPU cores, hence
  the common 32x32 input.) Its frames are the STC sum frames, which equal Tonic
  ``ToFrame(n_time_bins=T)`` + 4x4 sum pooling up to the last event of each recording that
  ToFrame drops (measured on N-MNIST: 1.0-1.1 of ~4,000 events per recording differ).
- ``eventsnn`` - preset ``cifar10dvs`` (4 blocks of 64 channels, SCB, MT-LIF) with the
  settings of :data:`EVENTSNN` (AdamW, label smoothing, shift augmentation).

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
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eventsnn.bench.methods import (
    PLIF,
    BenchRun,
    frame_bundle,
    row_summary,
    table,
    train_on_frames,
    write_results,
)
from eventsnn.datasets import CompressedDataset, open_split, selection_frames
from eventsnn.errors import InvalidParameterError
from eventsnn.train import DataBundle
from eventsnn.transforms import STC

warnings.filterwarnings("ignore", message=".*Triton.*")

RESULTS = Path(__file__).resolve().parent / "results"
T_FILE = 4
SPATIAL_FACTOR = 4

#: eventsnn's settings on this data set (``TrainConfig`` fields: preset ``cifar10dvs`` + overrides).
EVENTSNN: dict[str, Any] = {
    "preset": "cifar10dvs",
    "model": {"n_thresholds": 2, "scb": "first"},
    "epochs": 15,
    "batch_size": 32,
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 0.01,
    "loss": "ce",
    "label_smoothing": 0.1,
    "augment": "shift=2",
}
#: method -> its settings; ``plif``: SpikingJelly's PLIF recipe on the same 32x32 frames.
METHODS: dict[str, dict[str, Any]] = {"eventsnn": EVENTSNN, "plif": PLIF}

#: frames ``x [N, T_FILE, P, H, W]`` and labels ``y [N]`` of the train and test recordings
Frames = tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def pool_time(x: torch.Tensor, T: int) -> torch.Tensor:
    """Sum adjacent frames: ``[N, T0, P, H, W]`` -> ``[N, T, P, H, W]`` (``T`` divides ``T0``).

    Exact for sum-mode STC: the fine bin of an event at T0 is ``floor(T0 u)`` and
    ``floor(floor(T0 u) / (T0 / T)) = floor(T u)``.
    """
    n, t0 = x.shape[:2]
    if t0 % T:
        raise InvalidParameterError(f"T={T} does not divide the {t0} frames of the file")
    return x.reshape(n, T, t0 // T, *x.shape[2:]).sum(2)


def load_file(path: str) -> tuple[Frames, list[str], tuple[int, ...]]:
    """The frames of a compressed file (sum mode, ratio 1, spatial factor 4), its classes and sensor."""
    train = CompressedDataset(path, "train")
    test = CompressedDataset(path, "test")
    stc = train.stc
    if stc.mode != "sum" or stc.ratio != 1 or stc.merge_polarity or stc.spatial_factor != SPATIAL_FACTOR:
        raise InvalidParameterError(f"{path}: need sum-mode frames, ratio 1, spatial factor 4, 2 polarities; got {stc}")
    if train.T % T_FILE:
        raise InvalidParameterError(f"{path}: need T divisible by 4, got {train.T}")

    def xy(ds: CompressedDataset) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.ascontiguousarray(ds.all_frames())), torch.from_numpy(ds.targets)

    return (xy(train), xy(test)), list(train.classes), tuple(train.sensor_size)


def simulate_small(root: str | None, per_class_train: int, per_class_test: int
                   ) -> tuple[Frames, list[str], tuple[int, ...]]:
    """Simulate this many train / test recordings per class, compressed at ``T_FILE``."""
    out = []
    for split, k in (("train", per_class_train), ("test", per_class_test)):
        ds, idx = open_split("cifar10dvs-sim", root, split, limit=10 * k, progress=True)  # k per class
        frames = selection_frames(ds, idx, STC(ds.sensor_size, T_FILE, spatial_factor=SPATIAL_FACTOR), progress=True)
        out.append((frames.x, frames.y))
    return (out[0], out[1]), list(ds.classes), tuple(ds.sensor_size)


def bundle_at(frames: Frames, T: int, classes: list[str], sensor: tuple[int, ...], source: dict[str, Any]) -> DataBundle:
    """The train / test frames pooled to ``T`` steps, as eventsnn.train takes them."""
    (xtr, ytr), (xte, yte) = frames
    return frame_bundle((pool_time(xtr, T), ytr), (pool_time(xte, T), yte), classes, sensor,
                        STC(sensor, T, spatial_factor=SPATIAL_FACTOR),
                        {"dataset": "cifar10dvs-sim", "frames": f"STC sum T={T_FILE} pooled to T={T}", **source})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="HDF5 from `eventsnn compress --dataset cifar10dvs-sim --T 4 --spatial-factor 4`")
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--methods", nargs="+", default=["eventsnn", "plif"], choices=["eventsnn", "plif"])
    BenchRun.add_arguments(ap, "runs/bench_cifar10dvs_sim", root_help="shared data folder (only for --quick)")
    ap.add_argument("--per-class", type=int, nargs=2, default=None, metavar=("TRAIN", "TEST"),
                    help="simulate this many train / test recordings per class here instead of --data")
    ap.add_argument("--quick", action="store_true", help="smoke test: simulate 300 recordings, 1 epoch")
    ap.add_argument("--out", default=None, help="output stem (default results/cifar10dvs_sim_accuracy[_quick])")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = {k: {**v, "epochs": 1} if args.quick else v for k, v in METHODS.items()}
    t_all = time.perf_counter()
    if args.quick:
        frames, classes, sensor = simulate_small(args.root, 20, 10)
    elif args.per_class is not None:
        frames, classes, sensor = simulate_small(args.root, *args.per_class)
    elif args.data is None:
        print("--data is required (or --quick); make the file with:\n  eventsnn compress --dataset "
              "cifar10dvs-sim --T 4 --spatial-factor 4 --workers 2 --out <file.h5>", file=sys.stderr)
        return 2
    else:
        frames, classes, sensor = load_file(args.data)
    stem = Path(args.out) if args.out else RESULTS / (
        "cifar10dvs_sim_accuracy_quick" if args.quick else "cifar10dvs_sim_accuracy")
    (xtr, ytr), (_, yte) = frames
    print(f"simulated CIFAR10-DVS: train {len(ytr)}, test {len(yte)}, frames {tuple(xtr.shape[1:])}", flush=True)
    run = BenchRun.from_args(args)
    source = {"data": args.data, "per_class": args.per_class}
    rows = []
    for T in args.T:
        data = bundle_at(frames, T, classes, sensor, source)
        for name in args.methods:
            row = train_on_frames(name, methods[name], data, run, Path(args.runs) / f"{name}_T{T}")
            rows.append(row)
            print(row_summary(f"{name:<9}", row), flush=True)
            meta = {"benchmark": "bench_cifar10dvs_sim", "argv": sys.argv[1:], "quick": args.quick,
                    "data": args.data, "per_class": args.per_class, "n_train": len(ytr), "n_test": len(yte),
                    "budget_cpu_s": args.budget_cpu_s, "total_wall_s": round(time.perf_counter() - t_all, 1)}
            write_results(rows, stem, meta,
                          f"simulated CIFAR10-DVS (32x32), {len(ytr)} train / {len(yte)} test recordings")
    print()
    print(table(rows))
    print(f"\nwrote {stem}.json/.csv/.png; total {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
