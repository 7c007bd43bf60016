"""HDF5 compressed datasets vs reading raw recordings through Tonic every epoch.

Measures, in one process, on the real N-MNIST recordings in ../shared/data:

- an epoch through Tonic: ``tonic.datasets.NMNIST`` (offline) with ``ToFrame(n_time_bins=T)``;
- an epoch through eventsnn's raw loader with the STC transform (same work, eventsnn kernels);
- writing the HDF5 file (``eventsnn.datasets.compress_datasets``, 0 and 2 workers);
- an epoch read from the HDF5 file with ``CompressedDataset``: preloaded (default for files that
  fit in memory) and chunk-by-chunk (``preload_limit=0``, what very large datasets do).

Run:  .venv/bin/python benchmarks/bench_hdf5.py [--T 4] [--repeats 3]
Writes benchmarks/results/hdf5.json, .csv and .png.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tonic

from eventsnn.datasets import NMNIST, CompressedDataset, compress_datasets, offline_tonic_dataset
from eventsnn.functional.stc import stc_numpy
from eventsnn.outputs import write_csv, write_json
from eventsnn.paths import shared_data_dir
from eventsnn.transforms import STC
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).parent / "results"


def epoch(ds) -> float:
    t = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return time.perf_counter() - t


def median_time(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    root = shared_data_dir()
    T = args.T
    sensor = tonic.datasets.NMNIST.sensor_size
    tonic_ds = offline_tonic_dataset(
        tonic.datasets.NMNIST, save_to=str(root), train=True,
        transform=tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=T),
    )
    ours = NMNIST(root, "train", transform=lambda ev: stc_numpy(ev, sensor, T))
    n = len(ours)
    n_events = sum(Path(f).stat().st_size // 5 for f in ours.files)
    rows = []

    def add(name: str, seconds: float) -> None:
        rows.append({"what": name, "seconds_per_epoch": seconds, "samples_per_s": n / seconds,
                     "events_per_s": n_events / seconds})

    add("tonic NMNIST + ToFrame (epoch)", median_time(lambda: epoch(tonic_ds), args.repeats))
    add("eventsnn NMNIST + STC (epoch)", median_time(lambda: epoch(ours), args.repeats))
    with tempfile.TemporaryDirectory() as tmp:
        raw = NMNIST(root, "train")
        for workers in (0, 2):
            out = Path(tmp) / f"w{workers}.h5"
            add(f"HDF5 write, {workers} workers",
                median_time(lambda out=out, w=workers: _timed(lambda: compress_datasets(
                    {"train": raw}, out, STC(sensor, T), workers=w, progress=False)), args.repeats))
        h5 = Path(tmp) / "w0.h5"
        size_mb = h5.stat().st_size / 2**20
        add("HDF5 read, open + preload (1st epoch)",
            median_time(lambda: epoch(CompressedDataset(h5, "train")), args.repeats))
        warm = CompressedDataset(h5, "train")
        epoch(warm)
        add("HDF5 read, preloaded (later epochs)", median_time(lambda: epoch(warm), args.repeats))
        add("HDF5 read, chunk per sample (epoch)",
            median_time(lambda: epoch(CompressedDataset(h5, "train", preload_limit=0)), args.repeats))
        check = CompressedDataset(h5, "train")
        assert np.array_equal(check.all_frames().sum(axis=(1, 2, 3, 4)), check.n_events)
    base = rows[0]["seconds_per_epoch"]
    for r in rows:
        r["speedup_vs_tonic"] = base / r["seconds_per_epoch"]
    result = {"T": T, "samples": n, "events": n_events, "hdf5_size_mb": size_mb, "rows": rows}
    write_json(RESULTS / "hdf5.json", result)
    write_csv(RESULTS / "hdf5.csv", rows, list(rows[0]))
    print(f"N-MNIST train, {n} recordings, {n_events} events, T={T}, HDF5 file {size_mb:.1f} MiB")
    print(f"{'what':40s} {'s/epoch':>9s} {'samples/s':>11s} {'x Tonic':>8s}")
    for r in rows:
        print(f"{r['what']:40s} {r['seconds_per_epoch']:9.3f} {r['samples_per_s']:11.0f} {r['speedup_vs_tonic']:8.1f}")
    fig = new_figure((8, 3.5))
    ax = fig.subplots()
    ax.barh([r["what"] for r in rows], [r["samples_per_s"] for r in rows], color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("samples per second (log)")
    ax.set_title(f"N-MNIST epoch, T={T}: raw files through Tonic vs eventsnn HDF5")
    for i, r in enumerate(rows):
        ax.text(r["samples_per_s"], i, f" {r['speedup_vs_tonic']:.1f}x", va="center")
    ax.invert_yaxis()
    fig.tight_layout()
    save(fig, RESULTS / "hdf5.png", 100)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
