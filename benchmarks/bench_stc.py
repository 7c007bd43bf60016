"""STC (eventsnn) vs Tonic's ToFrame: events per second on real recordings, in one process.

Run (from the repo root; ~2 min on 2 cores):

    .venv/bin/python benchmarks/bench_stc.py [--nmnist 300] [--repeats 7] [--warmup 3] [--T 1 2 4 8]

For each kind of recording — a fixed, evenly spaced subset of the real N-MNIST training files
(34x34) and the ten real 128x128 clips — and each ``T``, it times, interleaved, over all
recordings of the kind:

- ``tonic``: ``tonic.transforms.ToFrame(sensor_size, n_time_bins=T)`` on each recording, given
  the dtype Tonic's own datasets produce (``x, y: int16, t: int64, p: bool``);
- ``stc``: :func:`eventsnn.functional.stc.stc_numpy` on each recording (the transform's path);
- ``stc_batch``: :func:`eventsnn.functional.stc.stc_numpy_batch` on chunks of
  :data:`eventsnn.datasets.compressed.CHUNK` recordings (what ``eventsnn compress`` does).

Each output is dropped before the next call (as after a DataLoader's collate or ``compress``'s
HDF5 write), so memory is recycled alike for all methods. The median over ``--repeats`` rounds of process CPU time gives
events/s and the speed-up over Tonic (wall-clock figures are recorded too); torch is limited to
one thread, so both sides use one core and CPU time is not inflated by other jobs waiting for
the other core. The frames are checked: STC counts every event, Tonic's
``ToFrame`` loses the last one(s). Writes ``benchmarks/results/stc.json``, ``stc.csv``, ``stc.png``.

Sections: each ``section_*`` function returns a list of result rows (dicts); ``main`` runs the
sections in :data:`SECTIONS` and writes all rows, so further benchmarks can be appended as new
sections.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tonic
import torch
from numpy.lib.recfunctions import require_fields  # by field name; astype casts by position

from eventsnn.datasets.compressed import CHUNK
from eventsnn.events import read_bin_events
from eventsnn.functional.stc import stc_numpy, stc_numpy_batch
from eventsnn.outputs import write_csv, write_json
from eventsnn.paths import shared_data_dir
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).parent / "results"
TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
METHODS = ("tonic", "stc", "stc_batch")


def load_kinds(n_nmnist: int) -> dict[str, tuple[tuple[int, int, int], list[np.ndarray]]]:
    """Real recordings by kind: name -> (sensor_size, recordings in eventsnn's dtype)."""
    root = shared_data_dir()
    files = sorted((root / "NMNIST" / "Train").glob("*/*.bin"))
    if n_nmnist < len(files):  # evenly spaced, so every class is in the subset
        files = [files[i] for i in np.linspace(0, len(files) - 1, n_nmnist).round().astype(int)]
    clips = sorted((root / "DVSGesture_slayer_bs2_unlabeled").glob("*.bs2"))
    return {
        f"N-MNIST 34x34 ({len(files)} rec.)": ((34, 34, 2), [read_bin_events(f, (34, 34, 2)) for f in files]),
        f"DVS 128x128 ({len(clips)} clips)": ((128, 128, 2), [read_bin_events(f, (128, 128, 2)) for f in clips]),
    }


def _runners(
    sensor_size: tuple[int, int, int], recordings: list[np.ndarray], T: int
) -> dict[str, Callable[[], list[np.ndarray]]]:
    tonic_recs = [require_fields(r, TONIC_DTYPE) for r in recordings]
    to_frame = tonic.transforms.ToFrame(sensor_size=sensor_size, n_time_bins=T)
    chunks = [recordings[i : i + CHUNK] for i in range(0, len(recordings), CHUNK)]
    return {  # each output is dropped at once (list of shapes), as a consumer would
        "tonic": lambda: [to_frame(r).shape for r in tonic_recs],
        "stc": lambda: [stc_numpy(r, sensor_size, T).shape for r in recordings],
        "stc_batch": lambda: [stc_numpy_batch(c, sensor_size, T).shape for c in chunks],
    }


def event_counts(sensor_size: tuple[int, int, int], recordings: list[np.ndarray], T: int) -> dict[str, int]:
    """Total of all frames per method: STC must count every event, Tonic loses the last one(s)."""
    to_frame = tonic.transforms.ToFrame(sensor_size=sensor_size, n_time_bins=T)
    chunks = [recordings[i : i + CHUNK] for i in range(0, len(recordings), CHUNK)]
    return {
        "tonic": sum(int(to_frame(require_fields(r, TONIC_DTYPE)).sum()) for r in recordings),
        "stc": sum(int(stc_numpy(r, sensor_size, T).sum(dtype=np.float64)) for r in recordings),
        "stc_batch": sum(int(stc_numpy_batch(c, sensor_size, T).sum(dtype=np.float64)) for c in chunks),
    }


def section_stc(args: argparse.Namespace) -> list[dict]:
    """Events/s of Tonic ToFrame, stc_numpy and stc_numpy_batch for every kind and T."""
    rows = []
    for kind, (sensor_size, recordings) in load_kinds(args.nmnist).items():
        n_events = int(sum(len(r) for r in recordings))
        for T in args.T:
            runners = _runners(sensor_size, recordings, T)
            sums = event_counts(sensor_size, recordings, T)
            for _ in range(args.warmup):  # each method's first rounds run slower (caches, allocator)
                for run in runners.values():
                    run()
            assert sums["stc"] == sums["stc_batch"] == n_events, (kind, T, sums)
            cpu: dict[str, list[float]] = {m: [] for m in METHODS}
            wall: dict[str, list[float]] = {m: [] for m in METHODS}
            for _ in range(args.repeats):  # interleaved, so load changes hit all methods alike
                for m, run in runners.items():
                    c0, w0 = time.process_time(), time.perf_counter()
                    run()
                    cpu[m].append(time.process_time() - c0)
                    wall[m].append(time.perf_counter() - w0)
            med = {m: statistics.median(v) for m, v in cpu.items()}
            med_wall = {m: statistics.median(v) for m, v in wall.items()}
            for m in METHODS:
                rows.append(
                    {
                        "section": "stc",
                        "kind": kind,
                        "T": T,
                        "method": m,
                        "recordings": len(recordings),
                        "events": n_events,
                        "events_counted": sums[m],
                        "cpu_seconds": med[m],
                        "events_per_s": n_events / med[m],
                        "speedup_vs_tonic": med["tonic"] / med[m],
                        "wall_seconds": med_wall[m],
                        "wall_speedup_vs_tonic": med_wall["tonic"] / med_wall[m],
                    }
                )
            print(
                f"{kind:26s} T={T:<2d} Mev/s: tonic {n_events / med['tonic'] / 1e6:6.1f} | "
                + " | ".join(
                    f"{m} {n_events / med[m] / 1e6:6.1f} ({med['tonic'] / med[m]:4.1f}x, "
                    f"wall {med_wall['tonic'] / med_wall[m]:4.1f}x)"
                    for m in METHODS[1:]
                )
                + f" | tonic lost {n_events - sums['tonic']} ev.",
                flush=True,
            )
    return rows


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict]]] = {"stc": section_stc}


def plot_stc(rows: Sequence[dict], path: Path, title_note: str = "") -> None:
    """Grouped bars of events/s per T, one panel per kind of recording."""
    rows = [r for r in rows if r["section"] == "stc"]
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    fig = new_figure((6 * len(kinds), 4.2))
    axes = fig.subplots(1, len(kinds), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        sub = [r for r in rows if r["kind"] == kind]
        ts = sorted({r["T"] for r in sub})
        width = 0.8 / len(METHODS)
        for j, m in enumerate(METHODS):
            vals = [next(r for r in sub if r["T"] == T and r["method"] == m) for T in ts]
            xs = np.arange(len(ts)) + (j - 1) * width
            bars = ax.bar(xs, [v["events_per_s"] / 1e6 for v in vals], width, label=m)
            if m != "tonic":
                for b, v in zip(bars, vals, strict=True):
                    ax.annotate(f"{v['speedup_vs_tonic']:.1f}x", (b.get_x() + b.get_width() / 2, b.get_height()),
                                ha="center", va="bottom", fontsize=8)
        ax.set_xticks(np.arange(len(ts)), [f"T={T}" for T in ts])
        ax.set_ylabel("million events / CPU-second (one thread)")
        ax.set_title(kind)
        ax.axhline(10 * statistics.median(r["events_per_s"] for r in sub if r["method"] == "tonic") / 1e6,
                   color="gray", ls=":", lw=1, label="10x Tonic (median)")
        ax.legend(fontsize=8)
    fig.suptitle(f"STC vs tonic.transforms.ToFrame(n_time_bins=T) on real recordings{title_note}")
    fig.tight_layout()
    save(fig, path, 120)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nmnist", type=int, default=300, help="N-MNIST recordings used (of 1000)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds of every method first")
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    rows = [row for s in args.sections for row in SECTIONS[s](args)]
    meta = {
        "command": " ".join(["benchmarks/bench_stc.py", *(argv if argv is not None else sys.argv[1:])]),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "tonic": tonic.__version__,
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
    }
    write_json(args.out / "stc.json", {"meta": meta, "rows": rows})
    write_csv(args.out / "stc.csv", rows, list(dict.fromkeys(k for r in rows for k in r)))
    if any(r["section"] == "stc" for r in rows):
        plot_stc(rows, args.out / "stc.png", f" (load avg {load_before[0]:.1f})")
    print(f"load average before/after: {load_before} / {meta['loadavg_after']}")
    print(f"wrote {args.out / 'stc.json'}, stc.csv, stc.png")


if __name__ == "__main__":
    main()
