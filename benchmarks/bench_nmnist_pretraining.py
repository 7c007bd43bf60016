"""How long to pre-train: N-MNIST hold-out accuracy against pre-training epochs, over several splits.

The N-MNIST recipes pre-train on simulated N-MNIST (``nmnist-sim``) and fine-tune on the real
recordings. This benchmark runs the recipe of each T (``eventsnn train --dataset nmnist --T n``,
i.e. :func:`eventsnn.train.train` with ``TrainConfig(dataset="nmnist", T=n)``) with one setting
changed per variant - the pre-training epochs, the 128-channel model of the recipes before issue
14, or (after 16 pre-training epochs) the fine-tuning learning rate or epochs - on the 801 / 199
hold-outs of ``--seeds`` (``--val-split holdout --val-fraction 0.2 --split-seed S``), one torch
thread, and reports the accuracy of the model after the last epoch on the 199 held-out
recordings, per split, with mean, standard deviation and the mean paired difference to the
first variant of its T.

The splits of this benchmark (default seeds 10-15) are the ones ``nmnist-T2``'s pre-training length
was chosen on (session 19); the reporting splits are seeds 0-4 (``bench_nmnist_splits.py``).

Each run is a folder ``<runs>/<variant>_s<seed>`` written by ``eventsnn train``; a finished folder
is read back, not retrained (``resume``), so the table can be rebuilt or extended run by run.
Pre-training does not depend on the split: it is cached (``--cache-dir``) and paid once per
variant. Outputs ``benchmarks/results/nmnist_pretraining.{json,csv,png}``::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_nmnist_pretraining.py --runs runs/pretraining

(about 110 CPU-min for the 10 variants x 6 splits; ``--only P16 C0`` runs a part.)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from eventsnn.bench.methods import write_results
from eventsnn.train import TrainConfig, train
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).resolve().parent / "results"

warnings.filterwarnings("ignore", message=".*Triton.*")

#: variant -> (T, changes to the recipe of that T); the first variant of each T is its baseline
VARIANTS: dict[str, tuple[int, dict[str, Any]]] = {
    "T1C0": (1, {"pretrain_epochs": 4}),
    "T1P8": (1, {"pretrain_epochs": 8}),
    "T1P16": (1, {"pretrain_epochs": 16}),
    "C0": (2, {"pretrain_epochs": 4}),
    "P8": (2, {"pretrain_epochs": 8}),
    "P16": (2, {"pretrain_epochs": 16}),
    "P32": (2, {"pretrain_epochs": 32}),
    "C1": (2, {"pretrain_epochs": 4, "model": {"channels": [128, 128]}}),
    "P16L": (2, {"pretrain_epochs": 16, "lr": 3e-4, "pretrain_lr": 1e-3}),
    "P16F30": (2, {"pretrain_epochs": 16, "epochs": 30}),
}
LABELS = {"C1": "128 ch, 4 ep", "P16L": "16 ep,\nlr 3e-4", "P16F30": "16 ep,\n30 epochs"}


def label(name: str) -> str:
    return LABELS.get(name, f"{VARIANTS[name][1]['pretrain_epochs']} ep")


def run_variant(name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or read back) one variant on the hold-out of split ``seed``; its row."""
    T, change = VARIANTS[name]
    cfg = TrainConfig(dataset="nmnist", root=args.root, T=T, val_split="holdout", val_fraction=0.2,
                      split_seed=seed, out=str(Path(args.runs) / f"{name}_s{seed}"), cache_dir=args.cache_dir,
                      threads=1, progress=False, resume=True, **copy.deepcopy(change))
    result = train(cfg)
    last = result.history[-1]
    return {"variant": name, "label": label(name), "T": T, "split_seed": seed,
            "pretrain_epochs": result.config.pretrain_epochs, "channels": result.model_config.get("channels"),
            "accuracy": last["val_acc"], "best_val_acc": result.best_val_acc, "best_epoch": result.best_epoch,
            "epochs": len(result.history), "cpu_s_run": last.get("cpu_s"), "out": str(result.out_dir)}


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: accuracies by split, mean, sd, and the mean paired difference to its T's baseline."""
    by = {n: {r["split_seed"]: 100 * r["accuracy"] for r in rows if r["variant"] == n} for n in VARIANTS}
    base = {T: next(n for n, (t, _) in VARIANTS.items() if t == T) for T, _ in VARIANTS.values()}
    out = {}
    for name, accs in by.items():
        if not accs:
            continue
        ref = by[base[VARIANTS[name][0]]]
        pairs = [accs[s] - ref[s] for s in accs if s in ref]
        vals = list(accs.values())
        out[name] = {"T": VARIANTS[name][0], "label": label(name), "seeds": sorted(accs), "accuracy_pct": vals,
                     "mean_pct": statistics.mean(vals), "sd_pct": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                     "paired_diff_pct": statistics.mean(pairs) if pairs else None,
                     "n_pairs_not_below": sum(d >= 0 for d in pairs)}
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    s = summary(rows)
    fig = new_figure((8, 4))
    ax = fig.subplots()
    for i, d in enumerate(s.values()):
        ax.plot([i] * len(d["accuracy_pct"]), d["accuracy_pct"], "o", color=f"C{d['T']}", alpha=0.45)
        ax.errorbar(i + 0.2, d["mean_pct"], yerr=d["sd_pct"], fmt="s", color="black", capsize=3)
        ax.annotate(f"{d['mean_pct']:.1f}", (i + 0.2, d["mean_pct"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xticks(range(len(s)), [f"T={d['T']}\n{d['label']}" for d in s.values()], fontsize=8)
    ax.set_ylabel("held-out accuracy, last epoch (%)")
    ax.set_title(f"N-MNIST: pre-training length, 801/199 hold-outs of split seeds "
                 f"{', '.join(map(str, sorted({r['split_seed'] for r in rows})))}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save(fig, path, 120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13, 14, 15])
    ap.add_argument("--only", nargs="+", choices=list(VARIANTS), default=None, help="run these variants only")
    ap.add_argument("--root", default=None)
    ap.add_argument("--runs", default="runs/bench_nmnist_pretraining")
    ap.add_argument("--cache-dir", default=None, help="cache of simulated sets and pre-trained weights")
    ap.add_argument("--out", default=None, help="output stem (default results/nmnist_pretraining)")
    args = ap.parse_args(argv)
    stem = Path(args.out) if args.out else RESULTS / "nmnist_pretraining"
    t0 = time.perf_counter()
    rows = []
    for name in args.only or VARIANTS:
        for seed in args.seeds:
            rows.append(run_variant(name, seed, args))
            r = rows[-1]
            print(f"{name:<6} split {seed}: {100 * r['accuracy']:.1f}% last epoch", flush=True)
    meta = {"benchmark": "bench_nmnist_pretraining", "argv": sys.argv[1:], "seeds": args.seeds,
            "model": "last epoch", "summary": summary(rows), "total_wall_s": round(time.perf_counter() - t0, 1)}
    write_results(rows, stem, meta)
    plot(rows, stem.with_suffix(".png"))
    print("\n| variant | T | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± sd | vs baseline |")
    for name, d in summary(rows).items():
        diff = "-" if d["paired_diff_pct"] is None else f"{d['paired_diff_pct']:+.2f}"
        print(f"| {name} ({d['label'].replace(chr(10), ' ')}) | {d['T']} | " + " | ".join(f"{a:.1f}" for a in d["accuracy_pct"])
              + f" | {d['mean_pct']:.2f} ± {d['sd_pct']:.2f} | {diff} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
