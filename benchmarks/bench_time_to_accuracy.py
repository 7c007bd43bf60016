"""Cost of accuracy: CPU-seconds from the command to the first epoch at >= 97% on an N-MNIST hold-out.

Three ``eventsnn train`` commands, one after the other, on the same machine and the same split
(the 1,000 real N-MNIST training recordings, 801 for training and 199 held out with
``--val-split holdout --val-fraction 0.2 --split-seed 1``, the split of ``bench_nmnist.py``), at
T = 1 with one torch thread:

- ``default, cold``: ``eventsnn train --dataset nmnist --T 1`` (the recipe ``nmnist-T1`` as it is
  now in ``eventsnn/train/recipes.py``) with an empty cache folder: it simulates the 9,000 + 1,000
  ``nmnist-sim`` recordings, pre-trains, then fine-tunes;
- ``default, warm``: the same command again, same cache folder: the pre-trained weights are read
  from the cache, so it goes straight to fine-tuning;
- ``plif``: ``eventsnn train --dataset nmnist --T 1 --recipe plif`` (SpikingJelly's PLIF recipe).

Each run is a subprocess. Its cost is read from the run's metrics (``cpu_s`` of each epoch: the
process's CPU-seconds since the command started, imports included, both stages) and the
subprocess's total CPU-seconds (``getrusage`` of the children). "CPU-s to target" is ``cpu_s`` of
the first fine-tuning epoch whose accuracy on the 199 held-out recordings reaches ``--target``
(none: it never did; the table then gives where it ended). The hold-out is the one nobody tuned
on; reading the first epoch above the target on it reports when the run gets there, it is not a
stopping rule anyone would use.

Outputs: ``benchmarks/results/time_to_accuracy.{json,csv,png}`` and a printed table.

    .venv/bin/python benchmarks/bench_time_to_accuracy.py                 # ≈ 15 min of CPU
    .venv/bin/python benchmarks/bench_time_to_accuracy.py --quick          # smoke test, ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SPLIT = ["--val-split", "holdout", "--val-fraction", "0.2", "--split-seed", "1"]
#: the targets of issue 14, CPU-s from the command to the target accuracy (T = 1)
TARGET_CPU_S = {"cold": 150.0, "warm": 60.0}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _history(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pre-training and fine-tuning rows of a finished run folder."""
    pre = out / "pretrain" / "metrics.json"
    pre_rows = json.loads(pre.read_text())["history"] if pre.is_file() else []
    return pre_rows, json.loads((out / "metrics.json").read_text())["history"]


def run(label: str, extra: list[str], out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one ``eventsnn train`` command; returns its row."""
    cmd = [sys.executable, "-m", "eventsnn", "train", "--dataset", "nmnist", "--T", str(args.T), *SPLIT,
           "--threads", str(args.threads), "--no-progress", "--out", str(out), *extra]
    if args.quick:
        cmd += ["--limit", "200", "--epochs", "2"] + ([] if "plif" in extra else ["--pretrain-epochs", "1"])
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    print(f"[{label}] {' '.join(cmd[1:])}", flush=True)
    load0, c0, t0 = os.getloadavg()[0], _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    (out.parent / f"{out.name}.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"[{label}] failed:\n{done.stderr[-3000:]}")
    pre, rows = _history(out)
    hit = next((r for r in rows if r["val_acc"] >= args.target), None)
    cfg = json.loads((out / "config.json").read_text())
    row = {
        "method": label, "recipe": cfg["train"]["recipe"], "T": args.T,
        "cpu_s_to_target": None if hit is None else hit["cpu_s"], "epoch_to_target": None if hit is None else hit["epoch"],
        "final_val_acc": rows[-1]["val_acc"], "best_val_acc": max(r["val_acc"] for r in rows),
        "n_val": rows[-1]["val_samples"], "epochs": len(rows), "pretrain_epochs_run_here": 0,
        "pretrain_source": (cfg.get("pretrain") or {}).get("source"),
        "cpu_s_pretraining_end": pre[-1]["cpu_s"] if pre and cfg["pretrain"]["source"] != "cache" else None,
        "cpu_s_run": rows[-1]["cpu_s"], "cpu_s_process": round(cpu, 1), "wall_s": round(wall, 1),
        "load_avg_start": round(load0, 2), "load_avg_end": round(os.getloadavg()[0], 2),
        "command": " ".join(["eventsnn", *cmd[3:]]),
        "history": rows, "pretrain_history": pre if cfg.get("pretrain", {}) and cfg["pretrain"]["source"] != "cache" else [],
    }
    row["pretrain_epochs_run_here"] = len(row["pretrain_history"])
    reached = (f"{args.target:.0%} at epoch {row['epoch_to_target']} after {row['cpu_s_to_target']:.0f} CPU-s"
               if hit else f"never {args.target:.0%}: ends at {row['final_val_acc']:.2%}")
    print(f"[{label}] {reached}; {row['cpu_s_process']:.0f} CPU-s in all, {wall:.0f} s wall, "
          f"load {row['load_avg_end']:.1f}", flush=True)
    return row


def plot(rows: list[dict[str, Any]], path: Path, target: float, title: str) -> None:
    from eventsnn.outputs import save_figure
    from eventsnn.viz import new_figure

    fig = new_figure((7, 4.2))
    ax = fig.subplots()
    for r in rows:
        xs = [h["cpu_s"] for h in r["history"]]
        line, = ax.plot(xs, [100 * h["val_acc"] for h in r["history"]], "o-", ms=3, label=r["method"])
        if r["pretrain_history"]:
            ax.axvspan(0, r["pretrain_history"][-1]["cpu_s"], color=line.get_color(), alpha=0.08)
        if r["cpu_s_to_target"] is not None:
            ax.annotate(f"{r['cpu_s_to_target']:.0f} CPU-s", (r["cpu_s_to_target"], 100 * target),
                        textcoords="offset points", xytext=(4, -14), fontsize=8, color=line.get_color())
    ax.axhline(100 * target, color="k", lw=0.8, ls="--")
    for name, x in TARGET_CPU_S.items():
        ax.axvline(x, color="grey", lw=0.8, ls=":")
        ax.text(x, 101, f"target {name}", fontsize=7, ha="center", color="grey")
    ax.set_xlabel("CPU-seconds from the command (1 thread; shaded: simulation + pre-training)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(50, 102)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'method':<16} {'CPU-s to target':>16} {'epoch':>6} {'final acc':>10} {'CPU-s total':>12} {'load':>5}"]
    for r in rows:
        to = "never" if r["cpu_s_to_target"] is None else f"{r['cpu_s_to_target']:.0f}"
        ep = "-" if r["epoch_to_target"] is None else str(r["epoch_to_target"])
        lines.append(f"{r['method']:<16} {to:>16} {ep:>6} {100 * r['final_val_acc']:>9.2f}% "
                     f"{r['cpu_s_process']:>12.0f} {r['load_avg_end']:>5.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=1)
    ap.add_argument("--target", type=float, default=0.97)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", default="runs/bench_time_to_accuracy", help="run folders and the cache folder")
    ap.add_argument("--methods", nargs="+", default=["cold", "warm", "plif"], choices=["cold", "warm", "plif"])
    ap.add_argument("--quick", action="store_true", help="smoke test: 200 recordings, 1 + 2 epochs")
    ap.add_argument("--out", default=None, help="output stem (default results/time_to_accuracy[_quick])")
    args = ap.parse_args(argv)
    from eventsnn.outputs import write_csv, write_json

    stem = Path(args.out) if args.out else RESULTS / ("time_to_accuracy_quick" if args.quick else "time_to_accuracy")
    runs = Path(args.runs)
    cache = runs / "cache"
    rows = []
    for method in args.methods:
        out = runs / method
        shutil.rmtree(out, ignore_errors=True)
        if method == "cold":
            shutil.rmtree(cache, ignore_errors=True)  # empty cache: simulation and pre-training included
        extra = ["--recipe", "plif"] if method == "plif" else ["--cache-dir", str(cache)]
        label = {"cold": "default, cold", "warm": "default, warm", "plif": "plif"}[method]
        rows.append(run(label, extra, out, args))
        meta = {"benchmark": "bench_time_to_accuracy", "argv": sys.argv[1:], "quick": args.quick, "T": args.T,
                "target": args.target, "threads": args.threads, "split": " ".join(SPLIT),
                "targets_cpu_s": TARGET_CPU_S, "machine": platform.platform(), "cpus": os.cpu_count()}
        write_json(stem.with_suffix(".json"), {"meta": meta, "results": rows})
        write_csv(stem.with_suffix(".csv"), rows, [k for k in rows[0] if not k.endswith("history")])
    title = f"N-MNIST, T = {args.T}: held-out accuracy against CPU-s ({rows[0]['n_val']} held-out recordings)"
    plot(rows, stem.with_suffix(".png"), args.target, title)
    print(f"\n{table(rows)}\n\nwrote {stem}.json/.csv/.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
