"""Streaming a long recording: a decision every 10 ms on one CPU core, per step time and accuracy.

Run (from the repo root; a few minutes on one core):

    .venv/bin/python benchmarks/bench_stream.py --checkpoint runs/objects-A-T1/last.pt \\
        runs/objects-A-T2/last.pt runs/objects-A-T4/last.pt [--step-ms 10] [--seconds 0]

Each checkpoint is a DVS128Objects recipe model trained on session DataSet2 (protocol A:
``eventsnn train --dataset dvs128objects --T n --val-split session:DataSet``). Every test
recording of protocol A (session DataSet: box, mouse x2, scissors) is replayed as fast as
possible through :func:`eventsnn.bench.replay.stream_recording` in both modes:

- ``window``: every tick, the model on the last 300 ms window (exact: the offline model, T
  network steps per decision);
- ``continuous``: the network advances one step per tick on the last training step's events,
  never reset (one network step per decision).

Per model and mode: the time per decision (preprocessing + STC + network; the thread's CPU time,
median and p95 over all ticks, and the wall-clock medians), the real-time factor (sensor time /
CPU time) and the fraction of decisions that name the recording's class. For comparison, today's 128x128 preset (``dvsgesture``: four
blocks of 64 channels, here with 7 outputs and untrained weights: timing only) runs the same
recordings through the same pipeline (T = 4, the recipe's preprocessing). One torch thread;
the machine is shared, so medians are reported and the load average is recorded. Writes
``benchmarks/results/stream.json``, ``stream.csv``, ``stream.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eventsnn.bench.replay import MODES, WindowPipeline, stream_recording
from eventsnn.datasets.dvs128objects import DVS128Objects
from eventsnn.nn import build_model
from eventsnn.outputs import write_csv, write_json
from eventsnn.train import load_model
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).parent / "results"
FIELDS = ["model", "T", "mode", "ticks", "accuracy", "cpu_ms_median", "cpu_ms_p95", "realtime_factor_cpu",
          "step_ms_median", "step_ms_p95", "prep_ms_median", "net_ms_median", "realtime_factor"]


def _row(name: str, T: int, mode: str, results: list[Any]) -> dict[str, Any]:
    prep = np.concatenate([r.prep_ms for r in results])
    total = np.concatenate([r.compute_ms for r in results])
    cpu = np.concatenate([r.cpu_ms for r in results])
    ticks = int(sum(len(r.times_us) for r in results))
    right = [r.accuracy for r in results if r.accuracy is not None]
    weights = [len(r.times_us) for r in results if r.accuracy is not None]
    sensor_ms = sum(len(r.times_us) * r.step_us / 1000 for r in results)
    return {
        "model": name, "T": T, "mode": mode, "ticks": ticks,
        "accuracy": float(np.average(right, weights=weights)) if right else None,
        "per_recording": {r.extra["recording"]: r.accuracy for r in results},
        "cpu_ms_median": float(np.median(cpu)), "cpu_ms_p95": float(np.percentile(cpu, 95)),
        "realtime_factor_cpu": float(sensor_ms / cpu.sum()),
        "step_ms_median": float(np.median(total)), "step_ms_p95": float(np.percentile(total, 95)),
        "prep_ms_median": float(np.median(prep)), "net_ms_median": float(np.median(total - prep)),
        "realtime_factor": float(sensor_ms / total.sum()),
    }


def _say(r: dict[str, Any]) -> None:
    right = "" if r["accuracy"] is None else f", {100 * r['accuracy']:.1f}% of the decisions right"
    print(f"{r['model']:<44} {r['mode']:<10} {r['cpu_ms_median']:.3f} CPU-ms/decision (p95 {r['cpu_ms_p95']:.3f}; "
          f"wall {r['step_ms_median']:.3f}): {r['realtime_factor_cpu']:.1f}x real time{right}", flush=True)


def _stream_all(model: torch.nn.Module, pipe: WindowPipeline, recordings: list[tuple[str, np.ndarray, int]],
                classes: list[str], step_us: int, mode: str) -> list[Any]:
    out = []
    for name, events, label in recordings:
        r = stream_recording(model, events, pipe, classes, step_us, mode, label)
        r.extra = {"recording": name}
        out.append(r)
    return out


def _plot(rows: list[dict[str, Any]], step_ms: float, path: Path) -> Path:
    fig = new_figure((11, 4.5))
    left, right = fig.subplots(1, 2)
    labels = [f"{r['model']}\n{r['mode']}" for r in rows]
    y = np.arange(len(rows))
    colors = ["tab:blue" if r["mode"] == "window" else "tab:orange" for r in rows]
    left.barh(y, [r["cpu_ms_median"] for r in rows], color=colors)
    left.errorbar([r["cpu_ms_p95"] for r in rows], y, fmt="k|", ms=10, label="p95")
    left.axvline(step_ms / 10, color="tab:red", ls="--", label=f"{step_ms / 10:g} ms: 10x real time")
    left.set_yticks(y, labels, fontsize=7)
    left.invert_yaxis()
    left.set_xlabel(f"CPU ms per decision (median; one every {step_ms:g} ms, 1 thread)", fontsize=8)
    left.legend(fontsize=7)
    acc = [100 * r["accuracy"] if r["accuracy"] is not None else 0 for r in rows]
    right.barh(y, acc, color=colors)
    for k, r in enumerate(rows):
        right.text(1, k, "untrained: timing only" if r["accuracy"] is None else f"{acc[k]:.1f}%", va="center",
                   fontsize=7, color="white" if r["accuracy"] else "k")
    right.set_yticks(y, [])
    right.invert_yaxis()
    right.set_xlim(0, 100)
    right.set_xlabel("decisions naming the right class (%), protocol A test recordings", fontsize=8)
    fig.suptitle("DVS128Objects streamed: window mode (blue, exact) vs continuous mode (orange)", fontsize=10)
    fig.tight_layout()
    return save(fig, path, 110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", nargs="+", required=True, help="recipe models trained on session DataSet2")
    ap.add_argument("--step-ms", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=0, help="stream only the first S seconds of each recording (0: all)")
    ap.add_argument("--session", default="DataSet", help="the test recordings (default DataSet: protocol A)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stem", default="stream")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    step_us = round(a.step_ms * 1000)
    ds = DVS128Objects(sessions=[a.session])
    recordings = []
    for i, rid in enumerate(ds.recording_ids):
        ev = ds.read(i)
        recordings.append((rid, ev if not a.seconds else ev[ev["t"] < a.seconds * 1e6], int(ds.targets[i])))
    classes = list(ds.classes)
    rows, pipe = [], None
    for ckpt in a.checkpoint:
        model, info = load_model(ckpt)
        pipe = WindowPipeline.from_checkpoint(info)
        name = f"recipe T={pipe.stc.T} ({Path(ckpt).parent.name})"
        for mode in MODES:
            rows.append(_row(name, pipe.stc.T, mode, _stream_all(model, pipe, recordings, classes, step_us, mode)))
            _say(rows[-1])
    assert pipe is not None
    today = build_model("dvsgesture", n_classes=len(classes)).eval()  # 4 x 64 channels, untrained
    at4 = dataclasses.replace(pipe, stc=pipe.stc.with_T(4))
    for mode in MODES:
        res = _stream_all(today, at4, recordings, classes, step_us, mode)
        for r in res:
            r.label = None  # untrained: no accuracy
        rows.append(_row("dvsgesture preset T=4 (4x64 ch., untrained)", 4, mode, res))
        _say(rows[-1])
    meta = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]), "step_ms": a.step_ms,
            "threads": a.threads, "recordings": [r[0] for r in recordings], "load_avg_end": list(os.getloadavg()),
            "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
            "note": "as fast as possible (no pacing); per-decision time = preprocessing (cut, normalisation) "
                    "+ STC + network; medians over all ticks of all recordings; shared machine"}
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / f"{a.stem}.json", {"meta": meta, "rows": rows})
    write_csv(RESULTS / f"{a.stem}.csv", rows, FIELDS)
    _plot(rows, a.step_ms, RESULTS / f"{a.stem}.png")
    print(f"wrote {RESULTS / a.stem}.json/.csv/.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
