"""Side by side on real N-MNIST: eventsnn vs SpikingJelly's PLIF recipe, accuracy vs latency and cost.

Four methods (:data:`METHODS`): ``eventsnn`` and ``eventsnn-compact`` (64 channels, synaptic-
operation penalty); ``plif``, SpikingJelly's PLIF recipe as it is; and ``plif-sim``, the same PLIF
recipe given eventsnn's data, i.e. the same pre-training on simulated N-MNIST first, so that the
comparison separates the network from the data. Each method is
trained at T = 1, 2, 4, 10 (``eventsnn train``, same data, same seeded hold-out,
same budget), and each trained model is measured at its own T, in this one process, on the same
validation recordings (the hold-out recorded in the checkpoints; the official N-MNIST test split
is not in the shared data):

- accuracy (offline, training STC window);
- latency per recording at batch size 1 (STC + network, median over recordings; the models are
  timed in interleaved rounds so machine load hits them alike, and the reported value is the
  median of the per-round medians);
- NeuroBench-style synaptic operations (effective ACs + MACs) and the energy estimate
  (0.9 pJ/AC, 4.6 pJ/MAC, 45 nm; graded multi-threshold spikes count as MACs);
- streaming time to decision (:mod:`eventsnn.bench.streaming`).

Checkpoints: ``<runs>/<method>-T<T>/last.pt`` (``--checkpoint best.pt`` for the best epoch);
missing ones are trained first (sequentially) with ``eventsnn train --dataset nmnist --val-split
holdout --val-fraction 0.2 --split-seed 1`` - the 801 / 199 split of ``bench_nmnist.py`` - and
``--preset plif`` with the recipe (15 epochs, batch 16, Adam 1e-3, cosine, MSE) or ``--preset
nmnist`` with ``eventsnn.bench.methods.eventsnn_settings(T)``, pre-training on simulated N-MNIST
included (epochs per T from ``--schedule``, default those of ``bench_nmnist.py``). ``--ckpt eventsnn:4=PATH`` reuses a checkpoint
from elsewhere, e.g. the runs of ``bench_nmnist.py``: ``--ckpt
eventsnn:1=runs/bench_nmnist/eventsnn_T1/last.pt``. ``--curriculum`` starts each run from the
same method's checkpoint at the previous T (a cheaper protocol, used by earlier runs).

Targets checked against each PLIF variant (and reported whatever the outcome): eventsnn's
accuracy-latency curve is on or above PLIF's at every PLIF point (the best eventsnn accuracy at a
latency no larger than the PLIF point's is at least its accuracy); the fewest-steps eventsnn model
reaching 98% is >= 2.5x lower in latency and synaptic operations than the fewest-steps PLIF model
reaching 98%.

Writes benchmarks/results/bench_latency.{json,csv,png,md} and prints the table::

    .venv/bin/python benchmarks/bench_latency.py --runs runs/side_by_side            # train + measure
    .venv/bin/python benchmarks/bench_latency.py --runs runs/side_by_side --train-only
    .venv/bin/python benchmarks/bench_latency.py --quick   # smoke run (tiny models, minutes)
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from eventsnn.bench import (
    bench_model,
    format_table,
    load_average,
    load_eval_recordings,
    measure_latency,
)
from eventsnn.bench.methods import (
    EVENTSNN_EPOCHS,
    EVENTSNN_PRETRAIN_EPOCHS,
    eventsnn_settings,
    pretrain_config,
    train_command,
)
from eventsnn.datasets import spread_indices
from eventsnn.outputs import write_csv, write_json, write_text
from eventsnn.paths import shared_data_dir
from eventsnn.train import TrainConfig, load_model
from eventsnn.transforms import STC
from eventsnn.viz import plot_accuracy_vs_cost

warnings.filterwarnings("ignore", message=".*Triton.*")
RESULTS = Path(__file__).resolve().parent / "results"
#: method -> model preset. ``eventsnn`` is the recipe of ``bench_nmnist.py``;
#: ``eventsnn-compact`` the same with ``eventsnn.bench.methods.eventsnn_settings(T, compact=True)`` (64
#: channels, synaptic-operation penalty while fine-tuning); ``plif-sim`` is the PLIF recipe given
#: eventsnn's data: the same pre-training on simulated N-MNIST (same epochs per T) before the same
#: real recordings.
METHODS = {"eventsnn": "nmnist", "eventsnn-compact": "nmnist", "plif": "plif", "plif-sim": "plif"}
#: the eventsnn variants and the reference methods they are compared with, with their labels
VARIANTS = {"eventsnn": "eventsnn (128 channels)", "eventsnn-compact": "eventsnn compact (64 ch., ops penalty)"}
REFERENCES = {"plif": "SpikingJelly PLIF recipe",
              "plif-sim": "PLIF recipe + eventsnn's sim pre-training"}


def epochs_for(T: int, args: argparse.Namespace) -> int:
    """Training epochs of the run at ``T`` (``--schedule T:E`` entries, else ``--epochs``)."""
    return int(args.schedule.get(T, args.epochs))


def _pre_epochs(T: int) -> int:
    """eventsnn's pre-training epochs at ``T`` (``eventsnn.bench.methods.EVENTSNN_PRETRAIN_EPOCHS``)."""
    return int(EVENTSNN_PRETRAIN_EPOCHS.get(T, 0))


#: the PLIF recipe of Fang et al. 2021 (recipe ``plif``: preset ``plif``, Adam 1e-3, cosine, batch
#: 16, MSE of the voting rates), as ``eventsnn train`` options; it trains on eventsnn's sum-STC
#: frames with ratio 1 (the frames of Tonic's ``ToFrame(n_time_bins=T)`` plus the last event, which
#: ``ToFrame`` drops)
PLIF_ARGS = ["--recipe", "plif"]


def train_commands(method: str, T: int, out: Path, args: argparse.Namespace,
                   init_from: Path | None = None) -> list[list[str]]:
    """The ``eventsnn train`` commands of ``method`` at ``T``, run in order.

    eventsnn: the commands :func:`eventsnn.bench.methods.train_command` gives for the settings of
    :func:`eventsnn.bench.methods.eventsnn_settings`: pre-training on ``nmnist-sim`` for
    ``EVENTSNN_PRETRAIN_EPOCHS[T]`` epochs into ``<out>/pretrain`` (unless
    ``init_from`` is given), then training on the real recordings from its last checkpoint.
    PLIF: one command with :data:`PLIF_ARGS`; ``plif-sim`` first pre-trains the same way on
    ``nmnist-sim`` (same epochs as eventsnn at ``T``) into ``<out>/pretrain``.
    """
    epochs = args.plif_epochs if method in REFERENCES and args.plif_epochs else epochs_for(T, args)
    pre_epochs = 0 if init_from is not None or args.quick else _pre_epochs(T)
    cmds: list[list[str]] = []
    if method in VARIANTS:
        common = dict(root=str(args.root), T=T, seed=args.seed, threads=args.threads,
                      **eventsnn_settings(T, compact=method == "eventsnn-compact"))
        if pre_epochs:
            pre = pretrain_config(common, str(out / "pretrain"), pre_epochs)
            cmds.append(shlex.split(train_command(pre))[1:])
            init_from = out / "pretrain" / "last.pt"
        cfg = TrainConfig(dataset="nmnist", epochs=epochs, val_split="holdout",
                          val_fraction=args.val_fraction, split_seed=args.split_seed, out=str(out),
                          init_from=None if init_from is None else str(init_from), **common)
        cmds.append(shlex.split(train_command(cfg))[1:])
        cmds = [[sys.executable, "-m", "eventsnn.cli", *c, "--no-progress"] for c in cmds]
        cmd = cmds.pop()
    else:
        plif = [*PLIF_ARGS, "--T", str(T), "--threads", str(args.threads),
                "--seed", str(args.seed), "--no-progress"]
        if method == "plif-sim" and pre_epochs:
            cmds.append([sys.executable, "-m", "eventsnn.cli", "train", "--dataset", "nmnist-sim", *plif,
                         "--epochs", str(pre_epochs), "--out", str(out / "pretrain")])
            init_from = out / "pretrain" / "last.pt"
        cmd = [sys.executable, "-m", "eventsnn.cli", "train", "--dataset", "nmnist", "--root", str(args.root),
               *plif, "--epochs", str(epochs), "--val-split", "holdout", "--val-fraction", str(args.val_fraction),
               "--split-seed", str(args.split_seed), "--out", str(out)]
        if init_from is not None:
            cmd += ["--init-from", str(init_from)]
    if args.quick:
        cmd += ["--limit", "200", "--val-fraction", "0.25", "--channels", "8", "16"]
        if method in REFERENCES:
            cmd += ["--model-arg", "fc_hidden=64"]
    return [*cmds, cmd]


def checkpoints(args: argparse.Namespace) -> dict[tuple[str, int], Path]:
    given = {}
    for spec in args.ckpt:
        key, _, path = spec.partition("=")
        method, _, t = key.partition(":")
        if method not in METHODS or not t.isdigit() or not path:
            raise SystemExit(f"--ckpt expects METHOD:T=PATH with METHOD in {list(METHODS)}, got {spec!r}")
        given[(method, int(t))] = Path(path)
    out = {}
    for T in args.T:
        for method in args.methods:
            out[(method, T)] = given.get((method, T), Path(args.runs) / f"{method}-T{T}" / args.checkpoint)
    return out


def train_missing(ckpts: dict[tuple[str, int], Path], args: argparse.Namespace) -> None:
    """Train the missing checkpoints, in order of T (both methods at one T before the next).

    With ``--curriculum`` the run at T starts from the best checkpoint of the same method at
    the previous T (identical protocol for both methods), so that the budget stays modest.
    """
    Ts = sorted(args.T)
    for (method, T), path in sorted(ckpts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if path.is_file() or method not in args.train_methods:
            continue
        prev = Ts[Ts.index(T) - 1] if args.curriculum and Ts.index(T) > 0 else None
        init = ckpts[(method, prev)] if prev is not None else None
        t0 = time.time()
        log = path.parent.with_name(path.parent.name + ".log")
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as f:
            for cmd in train_commands(method, T, path.parent, args, init):
                print(f"[train] {method} T={T}: {' '.join(cmd)}", flush=True)
                f.flush()
                rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
                if rc != 0:
                    raise SystemExit(f"training {method} T={T} failed (exit {rc}), see {log}")
        print(f"[train] {method} T={T}: done after {time.time() - t0:.0f} s (log {log})", flush=True)


def _best_at_or_below(points: list[dict[str, Any]], key: str, limit: float) -> float | None:
    accs = [p["accuracy"] for p in points if p[key] <= limit]
    return max(accs) if accs else None


def targets(rows: list[dict[str, Any]], level: float = 0.98) -> dict[str, dict[str, Any]]:
    """The issue's two targets for each eventsnn variant against each reference method measured,
    keyed ``"<variant> vs <reference>"``."""
    present = {r["method"] for r in rows}
    return {f"{v} vs {ref}": targets_vs(rows, v, ref, level)
            for v in VARIANTS if v in present for ref in REFERENCES if ref in present}


def targets_vs(rows: list[dict[str, Any]], variant: str = "eventsnn", reference: str = "plif",
               level: float = 0.98) -> dict[str, Any]:
    """The issue's two targets, eventsnn ``variant`` against ``reference``, on the measured points
    (the keys say ``eventsnn`` and ``plif``)."""
    ev = sorted((r for r in rows if r["method"] == variant), key=lambda r: r["T"])
    pl = sorted((r for r in rows if r["method"] == reference), key=lambda r: r["T"])
    above = []
    for p in pl:
        best = _best_at_or_below(ev, "latency_ms", p["latency_ms"])
        above.append({"plif_T": p["T"], "plif_latency_ms": p["latency_ms"], "plif_accuracy": p["accuracy"],
                      "best_eventsnn_accuracy_at_or_below_latency": best,
                      "on_or_above": best is not None and best >= p["accuracy"]})
    out: dict[str, Any] = {"variant": variant, "reference": reference,
                           "curve_on_or_above_everywhere": all(a["on_or_above"] for a in above),
                           "curve_points": above, "level": level}

    def fewest(rs: list[dict[str, Any]], lv: float) -> dict[str, Any] | None:
        return next((r for r in rs if r["accuracy"] >= lv), None)

    def ratio_at(lv: float) -> dict[str, Any]:
        e, p = fewest(ev, lv), fewest(pl, lv)
        d: dict[str, Any] = {"level": lv, "eventsnn_T": e and e["T"], "plif_T": p and p["T"]}
        if e and p:
            d["latency_ratio"] = p["latency_ms"] / e["latency_ms"]
            d["synops_ratio"] = p["synops"] / e["synops"]
            d["energy_ratio"] = p["energy_uj"] / e["energy_uj"]
            d["met_2.5x"] = d["latency_ratio"] >= 2.5 and d["synops_ratio"] >= 2.5
        return d

    out["at_level"] = ratio_at(level)
    # the fewest-steps eventsnn model at the level vs the most accurate PLIF model (fewest steps)
    e = fewest(ev, level)
    p_best = max(pl, key=lambda r: (r["accuracy"], -r["T"]), default=None)
    if e and p_best:
        out["vs_most_accurate_plif"] = {
            "eventsnn_T": e["T"], "eventsnn_accuracy": e["accuracy"], "plif_T": p_best["T"],
            "plif_accuracy": p_best["accuracy"], "latency_ratio": p_best["latency_ms"] / e["latency_ms"],
            "synops_ratio": p_best["synops"] / e["synops"], "energy_ratio": p_best["energy_uj"] / e["energy_uj"]}
    # fallback when one method never reaches the level: the highest accuracy both reach
    common = min(max((r["accuracy"] for r in ev), default=0.0), max((r["accuracy"] for r in pl), default=0.0))
    out["at_highest_common_accuracy"] = ratio_at(common)
    # the same comparison at every accuracy a reference model reaches that eventsnn reaches too
    levels = [ratio_at(lv) for lv in sorted({r["accuracy"] for r in pl if r["accuracy"] <= common})]
    levels = [d for d in levels if "latency_ratio" in d]
    out["at_every_reference_level"] = {
        "levels": levels,
        "min_latency_ratio": min((d["latency_ratio"] for d in levels), default=None),
        "min_synops_ratio": min((d["synops_ratio"] for d in levels), default=None),
        "met_2.5x": bool(levels) and all(d["met_2.5x"] for d in levels),
    }
    return out


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Accuracy against latency and synaptic operations, one line per method
    (:func:`eventsnn.viz.plot_accuracy_vs_cost`; the eventsnn variants solid)."""
    labels = {m: VARIANTS.get(m) or REFERENCES[m] for m in METHODS}
    plot_accuracy_vs_cost(rows, path, title, labels, solid=VARIANTS, level=98.0)


def _title(n: int, Ts: list[int]) -> str:
    return (f"N-MNIST hold-out ({n} real recordings): eventsnn vs SpikingJelly's PLIF recipe, each trained "
            f"at T = {', '.join(map(str, Ts))}")


def _target_lines(tg: dict[str, Any]) -> list[str]:
    """Markdown bullets of one :func:`targets_vs` result."""
    a, c = tg["at_level"], tg["at_highest_common_accuracy"]
    ev, ref = tg["variant"], tg["reference"]
    lines = [f"- {ev} curve on or above {ref}'s at every {ref} point: **{tg['curve_on_or_above_everywhere']}**"]

    def ratios(d: dict[str, Any]) -> str:
        return (f"{ref} / {ev}: latency {d['latency_ratio']:.2f}x, synaptic ops {d['synops_ratio']:.2f}x, "
                f"energy estimate {d['energy_ratio']:.2f}x (below 1: {ev} costs more)")

    for lv in (a, c):
        if lv.get("latency_ratio") is not None:
            met = " - 2.5x target met" if lv.get("met_2.5x") else " - 2.5x target (latency and ops) not met"
            lines.append(f"- fewest steps reaching {100 * lv['level']:.1f}%: {ev} T={lv['eventsnn_T']}, {ref} "
                         f"T={lv['plif_T']}; {ratios(lv)}{met}")
        else:
            lines.append(f"- fewest steps reaching {100 * lv['level']:.1f}%: {ev} T={lv['eventsnn_T']}, "
                         f"{ref} T={lv['plif_T']} (None = not reached at any T): the ratio target cannot be "
                         "evaluated")
    e = tg.get("at_every_reference_level")
    if e and e["levels"]:
        lvs = ", ".join(f"{100 * d['level']:.1f}%" for d in e["levels"])
        lines.append(f"- at every accuracy a {ref} model reaches that {ev} reaches too ({lvs}): "
                     f"fewest-steps {ref} / {ev}: latency >= {e['min_latency_ratio']:.2f}x, synaptic ops >= "
                     f"{e['min_synops_ratio']:.2f}x" + (" - 2.5x met at every level" if e["met_2.5x"] else ""))
    v = tg.get("vs_most_accurate_plif")
    if v:
        lines.append(f"- {ev} T={v['eventsnn_T']} ({100 * v['eventsnn_accuracy']:.1f}%) vs the most accurate "
                     f"{ref} model, T={v['plif_T']} ({100 * v['plif_accuracy']:.1f}%): {ratios(v)}")
    return lines


def markdown(rows: list[dict[str, Any]], tg: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"N-MNIST validation hold-out ({meta['n']} real recordings), {meta['threads']} torch thread(s), "
        f"load average {meta['load_avg']} (shared CPU). Latency: median per recording at batch size 1 "
        f"(STC + network), median of {meta['rounds']} interleaved rounds. Energy: estimate, 45 nm "
        f"(0.9 pJ/AC, 4.6 pJ/MAC); graded spikes count as MACs.",
        "",
        "| method | T | accuracy | latency ms (STC + net) | p95 ms | SynOps (M) | ACs (M) | MACs (M) "
        "| energy µJ | decision ms | early exit acc / step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["method"], r["T"])):
        lines.append(
            f"| {r['method']} | {r['T']} | {100 * r['accuracy']:.1f}% | {r['latency_ms']:.2f} "
            f"({r['compress_ms']:.2f} + {r['network_ms']:.2f}) | {r['latency_p95_ms']:.2f} | "
            f"{r['synops'] / 1e6:.2f} | {r['effective_acs'] / 1e6:.2f} | {r['effective_macs'] / 1e6:.2f} | "
            f"{r['energy_uj']:.1f} | {r['decision_ms_mean']:.0f} | "
            f"{100 * r['early_exit_accuracy']:.1f}% / {r['early_exit_step_mean']:.2f} |"
        )
    for t in tg.values():
        lines += ["", f"{VARIANTS[t['variant']]} against the {REFERENCES[t['reference']]}:", ""] + _target_lines(t)
    lines += [
        "",
        f"Training: {meta.get('budget', '')}. Measured: each run's {meta.get('checkpoint', 'best.pt')}"
        + (" (chosen on this same hold-out: optimistic for both)" if meta.get("checkpoint") == "best.pt"
           else " (the model after the last epoch; nothing chosen on the hold-out)")
        + f". {meta['n']} recordings: 1 recording = {100 / meta['n']:.1f} points of accuracy; latency is "
        "wall time at batch 1.",
        "", f"Reproduce: `{meta['command']}`"]
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/side_by_side", help="folder of the training runs")
    ap.add_argument("--root", default=str(shared_data_dir()), help="folder holding NMNIST/")
    ap.add_argument("--T", type=int, nargs="+", default=[1, 2, 4, 10])
    ap.add_argument("--epochs", type=int, default=20, help="training epochs of a run not in --schedule (default 20)")
    ap.add_argument("--schedule", nargs="*", default=None, metavar="T:EPOCHS",
                    help="eventsnn epochs per T (default: eventsnn.bench.methods.EVENTSNN_EPOCHS)")
    ap.add_argument("--plif-epochs", type=int, default=15,
                    help="PLIF recipe epochs at every T (default 15; 0: as --schedule)")
    ap.add_argument("--curriculum", action=argparse.BooleanOptionalAction, default=False,
                    help="start the run at each T from the same method's checkpoint at the previous T "
                    "(default off)")
    ap.add_argument("--val-fraction", type=float, default=0.2, help="held-out fraction (default 0.2)")
    ap.add_argument("--split-seed", type=int, default=1,
                    help="seed of the hold-out (default 1, the split of bench_nmnist.py)")
    ap.add_argument("--checkpoint", choices=["last.pt", "best.pt"], default="last.pt",
                    help="checkpoint of a run that is measured (default last.pt; best.pt is chosen on the "
                    "hold-out itself)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for training (default 2)")
    ap.add_argument("--bench-threads", type=int, default=1, help="torch threads while measuring (default 1)")
    ap.add_argument("--ckpt", action="append", default=[], metavar="METHOD:T=PATH", help="reuse a checkpoint")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved latency rounds (default 3)")
    ap.add_argument("--latency-samples", type=int, default=100, help="recordings timed per round (default 100)")
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                    help="methods to train (if missing) and measure (default all: eventsnn, plif, plif-sim)")
    ap.add_argument("--train-only", action="store_true")
    ap.add_argument("--train-methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                    help="train the missing checkpoints of these methods only (default both)")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny models, 200 recordings, 1 epoch")
    ap.add_argument("--out", default=None, help="result prefix (default benchmarks/results/bench_latency)")
    ap.add_argument("--plot-only", action="store_true",
                    help="redraw the figure, targets and table from the saved JSON (no measurement)")
    args = ap.parse_args()
    if args.schedule is None:
        args.schedule = [f"{k}:{v}" for k, v in EVENTSNN_EPOCHS.items()]
    try:
        args.schedule = {int(k): int(v) for k, _, v in (e.partition(":") for e in args.schedule)}
    except ValueError:
        raise SystemExit(f"--schedule expects T:EPOCHS entries, got {args.schedule}") from None
    if args.quick:
        args.epochs, args.schedule, args.rounds, args.latency_samples = 1, {}, 2, 20
        args.plif_epochs = 1
        if args.runs == "runs/side_by_side":
            args.runs = "runs/side_by_side_quick"
    return args


def redraw(prefix: Path) -> None:
    """``--plot-only``: the figure, targets and table again from the saved JSON."""
    doc = json.loads(prefix.with_suffix(".json").read_text())
    doc["targets"] = targets(doc["rows"])
    write_json(prefix.with_suffix(".json"), doc)
    plot(doc["rows"], prefix.with_suffix(".png"), _title(doc["meta"]["n"], sorted({r["T"] for r in doc["rows"]})))
    md = markdown(doc["rows"], doc["targets"], doc["meta"])
    write_text(prefix.with_suffix(".md"), md)
    print(md)


def main() -> int:
    args = parse_args()
    prefix = Path(args.out) if args.out else RESULTS / ("bench_latency_quick" if args.quick else "bench_latency")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        redraw(prefix)
        return 0
    ckpts = checkpoints(args)
    train_missing(ckpts, args)
    if args.train_only:
        return 0

    torch.set_num_threads(args.bench_threads)
    models, recs, targets_t, sensor, desc, val_ids = {}, None, None, None, None, None
    for key, path in ckpts.items():
        model, info = load_model(path)
        ids = info["config"]["data"]["val"].get("indices")
        if recs is None:
            recs, targets_t, _, sensor, desc = load_eval_recordings(info, split="val")
            val_ids = ids
        elif ids != val_ids:
            raise SystemExit(f"{path} was validated on other recordings than the first checkpoint")
        models[key] = (model, info)

    rows = []
    for (method, T), (model, info) in models.items():
        r = bench_model(model, recs, targets_t, STC.from_dict(info["config"]["stc"], sensor), [T], name=f"{method} T={T}",
                        latency_samples=0, throughput_batch=0, progress=False)[0]
        r["method"], r["checkpoint"] = method, str(ckpts[(method, T)])
        r["trained_epochs"] = int(info["epoch"]) + 1
        r["best_val_acc_in_training"] = (info.get("best") or {}).get("val_acc")
        rows.append(r)
        print(f"[measure] {method} T={T}: accuracy {100 * r['accuracy']:.1f}%, synops {r['synops'] / 1e6:.2f} M",
              flush=True)

    # latency: interleaved rounds over all models
    lat_recs = [recs[int(i)] for i in spread_indices(len(recs), args.latency_samples)]
    lat: dict[tuple[str, int], list[Any]] = {k: [] for k in models}
    for rnd in range(args.rounds):
        for key, (model, info) in models.items():
            lat[key].append(measure_latency(model, lat_recs, STC.from_dict(info["config"]["stc"], sensor)))
        print(f"[latency] round {rnd + 1}/{args.rounds} done, load {load_average()}", flush=True)
    for r in rows:
        ls = lat[(r["method"], r["T"])]
        r["latency_ms"] = statistics.median(x.total_ms_median for x in ls)
        r["latency_p95_ms"] = statistics.median(x.total_ms_p95 for x in ls)
        r["compress_ms"] = statistics.median(x.compress_ms_median for x in ls)
        r["network_ms"] = statistics.median(x.network_ms_median for x in ls)
        r["latency_rounds_ms"] = [x.total_ms_median for x in ls]

    tg = targets(rows)
    meta = {"n": len(recs), **(desc or {}), "threads": torch.get_num_threads(), "rounds": args.rounds,
            "latency_samples": len(lat_recs), "load_avg": load_average(),
            "epochs": {T: epochs_for(T, args) for T in args.T}, "plif_epochs": args.plif_epochs,
            "curriculum": args.curriculum, "checkpoint": args.checkpoint,
            "budget": ("curriculum " if args.curriculum else "") + "eventsnn (both variants) " + ", ".join(
                f"T={T}: {0 if args.quick else _pre_epochs(T)} pre-training epoch(s) on nmnist-sim + {epochs_for(T, args)} epoch(s)"
                for T in sorted(args.T))
            + (f"; PLIF recipe {args.plif_epochs} epochs at every T" if args.plif_epochs else "")
            + ("; plif-sim: the PLIF recipe after the same pre-training epochs as eventsnn"
               if "plif-sim" in args.methods else ""),
            "command": " ".join([".venv/bin/python", "benchmarks/bench_latency.py", *sys.argv[1:]]),
            "torch": torch.__version__}
    doc = {"meta": meta, "targets": tg, "rows": rows}
    write_json(prefix.with_suffix(".json"), doc)
    fields = ["method", "T", "accuracy", "latency_ms", "latency_p95_ms", "compress_ms", "network_ms", "synops",
              "effective_acs", "effective_macs", "dense_synops", "energy_uj", "energy_uj_graded_as_acs",
              "activation_sparsity", "decision_ms_mean", "early_exit_accuracy", "early_exit_step_mean",
              "stream_accuracy", "parameter_count", "footprint_bytes", "trained_epochs", "checkpoint"]
    write_csv(prefix.with_suffix(".csv"), sorted(rows, key=lambda r: (r["method"], r["T"])), fields)
    plot(rows, prefix.with_suffix(".png"), _title(len(recs), args.T))
    md = markdown(rows, tg, meta)
    write_text(prefix.with_suffix(".md"), md)
    for r in rows:
        r["total_ms_median"], r["total_ms_p95"] = r["latency_ms"], r["latency_p95_ms"]
        r["compress_ms_median"], r["network_ms_median"] = r["compress_ms"], r["network_ms"]
    print(format_table(sorted(rows, key=lambda r: (r["method"], r["T"]))))
    print(md)
    print(f"saved {prefix}.json/.csv/.png/.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
