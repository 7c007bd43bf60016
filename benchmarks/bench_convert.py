"""ANN-to-SNN conversion side by side: eventsnn TTRBR vs SpikingJelly 2.0's converter.

Same trained ANNs, same calibration images (random training images), same test images:

* ANN accuracy;
* eventsnn: threshold tuning for each T (one converted SNN per T) with each residual-block
  restructuring option, with plain IF neurons and with signed IF neurons (``--neurons``) (``standard`` / ``shortcut_if`` / ``shared_threshold``; ANNs with
  ``block="pre"`` are restructuring option 1 and use ``standard``), plus the untuned conversion
  (QCFS λ or 99.99th-percentile thresholds, θ/2 initial membrane) for reference;
* SpikingJelly 2.0: ``ann2snn.Converter(recipe=RateCodingRecipe(dataloader, mode))`` with
  ``mode="Max"`` and ``"99.9%"`` (its two documented normalisations). QCFS activations are
  handed to it as ``nn.ReLU`` (its recipe only recognises ReLU modules); the weights are the same.
  Its SNN is run step by step (single-step mode) and read out after every step.

Writes ``<out>/<stem>.json``, ``.csv`` and ``.png`` (accuracy vs T, one panel per ANN, dashed ANN
line). Rows are appended as they finish; ``--resume`` skips (ANN, method) pairs already in the
JSON. Example (the numbers in the README)::

    python benchmarks/bench_convert.py --ann runs/r20_qcfs/ann.pt runs/r20_relu/ann.pt \\
        --T 1 2 4 8 16 32 --sj-tmax 64 --n-test 5000
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

warnings.filterwarnings("ignore", message=".*Triton.*")

from eventsnn.convert.checkpoint import load_ann  # noqa: E402
from eventsnn.convert.converter import convert, evaluate_ann, evaluate_snn  # noqa: E402
from eventsnn.convert.images import load_image_splits, random_subset  # noqa: E402
from eventsnn.convert.models import QCFS  # noqa: E402
from eventsnn.convert.report import rounded  # noqa: E402
from eventsnn.outputs import write_csv, write_json  # noqa: E402
from eventsnn.run import reset_state  # noqa: E402
from eventsnn.viz import plot_conversion_panels  # noqa: E402

FIELDS = ("ann", "arch", "act", "block", "method", "T", "acc", "ann_acc", "gap", "seconds", "n_test")


def sj_convert(ann: nn.Module, calib_x: torch.Tensor, mode: str, batch_size: int = 64) -> nn.Module:
    """SpikingJelly 2.0 rate-coding conversion of ``ann`` (QCFS activations -> nn.ReLU)."""
    from spikingjelly.activation_based.ann2snn import Converter, RateCodingRecipe

    net = copy.deepcopy(ann).eval()
    for name, m in list(net.named_modules()):
        if isinstance(m, QCFS):
            parent, _, leaf = name.rpartition(".")
            setattr(net.get_submodule(parent) if parent else net, leaf, nn.ReLU())
    loader = DataLoader(TensorDataset(calib_x), batch_size=batch_size)
    return Converter(recipe=RateCodingRecipe(dataloader=loader, mode=mode)).convert(net)


@torch.no_grad()
def sj_evaluate(snn: nn.Module, x: torch.Tensor, y: torch.Tensor, tmax: int,
                batch_size: int = 250) -> np.ndarray:
    """Accuracy after each of 1..tmax steps (single-step loop, outputs summed over steps; the
    network is SpikingJelly single-step, so it is called with ``[B, ...]`` and reset by hand)."""
    snn.eval()
    correct = torch.zeros(tmax, dtype=torch.long)
    for i in tqdm(range(0, len(x), batch_size), desc=f"SJ T<={tmax}", leave=False):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        reset_state(snn)
        acc_out = None
        for t in range(tmax):
            out = snn(xb)
            acc_out = out if acc_out is None else acc_out + out
            correct[t] += int((acc_out.argmax(1) == yb).sum())
        reset_state(snn)
    return (correct.double() / len(x)).numpy()


def _row(label: str, meta: dict, method: str, T: int, acc: float, ann_acc: float,
         seconds: float, n_test: int) -> dict:
    cfg = meta["config"]
    return {"ann": label, "arch": cfg["arch"], "act": cfg["act"], "block": cfg["block"],
            "method": method, "T": int(T), "acc": float(acc), "ann_acc": float(ann_acc),
            "gap": float(ann_acc - acc), "seconds": float(seconds), "n_test": int(n_test)}


def write(results: dict, out: Path, stem: str) -> None:
    """``<stem>.json``, ``<stem>.csv`` and ``<stem>.png`` (one panel per ANN) in ``out``, atomically."""
    write_json(out / f"{stem}.json", results, indent=1)
    write_csv(out / f"{stem}.csv", rounded(results["rows"]), FIELDS)
    plot_conversion_panels(results["rows"], out / f"{stem}.png")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ann", nargs="+", required=True, help="ann.pt files (eventsnn train-ann)")
    p.add_argument("--label", nargs="*", default=None, help="one label per --ann")
    p.add_argument("--data", default="cifar10")
    p.add_argument("--T", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--residual", nargs="+",
                   default=["standard", "shortcut_if", "shared_threshold"])
    p.add_argument("--neurons", nargs="+", default=["plain", "signed"], choices=["plain", "signed"],
                   help="IF neurons: plain (0/1 spikes) and/or signed (0/±1 spikes)")
    p.add_argument("--objective", default="output", choices=["output", "layer", "both"],
                   help="threshold-tuning objective (layer: one pass, for very deep nets)")
    p.add_argument("--bias-correction", action="store_true",
                   help="with layer tuning, also calibrate per-channel bias currents")
    p.add_argument("--residual-tmax", type=int, default=0,
                   help="run the non-standard residual options only up to this T (0 = all)")
    p.add_argument("--untuned-tmax", type=int, default=32)
    p.add_argument("--sj-tmax", type=int, default=64, help="SpikingJelly: read out 1..this T")
    p.add_argument("--sj-modes", nargs="*", default=["Max", "99.9%"])
    p.add_argument("--n-test", type=int, default=5000)
    p.add_argument("--n-calib", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--stem", default="convert")
    p.add_argument("--resume", action="store_true")
    return p.parse_args(argv)


def start_results(args: argparse.Namespace, out: Path) -> dict:
    """The results document: empty, or the earlier one with ``--resume``."""
    results = {"rows": [], "command": "python " + " ".join(sys.argv), "anns": {},
               "env": {"torch": torch.__version__, "python": platform.python_version()}}
    try:
        import spikingjelly
        results["env"]["spikingjelly"] = getattr(spikingjelly, "__version__", "2.0.0")
    except ImportError:  # pragma: no cover
        pass
    if args.resume and (out / f"{args.stem}.json").exists():
        old = json.loads((out / f"{args.stem}.json").read_text())
        results["rows"], results["anns"] = old["rows"], old.get("anns", {})
    return results


def run_eventsnn_tuned(args: argparse.Namespace, ann: nn.Module, calib: torch.Tensor, x_test: torch.Tensor,
                       y_test: torch.Tensor, residuals: list[str], todo, add) -> None:
    """eventsnn's converter with threshold tuning, per neuron kind, residual option and T."""
    for neurons in args.neurons:
        signed = neurons == "signed"
        for residual in residuals:
            for T in args.T:
                method = (f"eventsnn-{residual}" + ("-signed" if signed else "")
                          + ("-bias" if args.bias_correction else ""))
                if not todo(method, T) or (residual != "standard" and args.residual_tmax
                                           and T > args.residual_tmax):
                    continue
                t0 = time.perf_counter()
                snn = convert(ann, calib, T, residual=residual, signed=signed, objective=args.objective,
                              bias_correction=args.bias_correction)
                acc = 100.0 * evaluate_snn(snn, x_test, y_test, T, progress=True)[-1]
                add(method, T, acc, time.perf_counter() - t0)


def add_curve(method: str, curve, secs: float, pow2: list[int], tmax: int, add) -> None:
    """Rows of an accuracy-against-T curve (index T - 1) at the powers of two up to ``tmax``."""
    for T in pow2:
        if T <= tmax:
            add(method, T, curve[T - 1], secs)


def run_ann(path: str, label: str, args: argparse.Namespace, results: dict, done: set, out: Path) -> None:
    """Every method on one ANN checkpoint; each row is written as soon as it is measured."""
    pow2 = [t for t in (1, 2, 4, 8, 16, 32, 64, 128) if t <= max(args.sj_tmax, args.untuned_tmax)]
    ann, meta = load_ann(path)
    train_set, test_set = load_image_splits(args.data, augment=False, mean=np.asarray(meta["mean"]),
                                            std=np.asarray(meta["std"]))
    x_train, _ = train_set.tensors()
    x_all, y_all = test_set.tensors()
    idx = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(1))[:args.n_test]
    x_test, y_test = x_all[idx], y_all[idx]
    calib = random_subset(x_train, args.n_calib)
    ann_acc = 100.0 * evaluate_ann(ann, x_test, y_test)
    results["anns"][label] = {"path": str(path), "config": meta["config"], "ann_acc": ann_acc,
                              "epochs": meta.get("epoch"), "n_test": len(x_test)}
    print(f"[{label}] ANN {ann_acc:.2f}% on {len(x_test)} test images", flush=True)

    def add(method: str, T: int, acc: float, secs: float) -> None:
        results["rows"].append(_row(label, meta, method, T, acc, ann_acc, secs, len(x_test)))
        print(f"[{label}] {method:>30s} T={T:<3d} {acc:6.2f}%  gap {ann_acc - acc:+6.2f}"
              f"  ({secs:.0f}s)", flush=True)
        write(results, out, args.stem)

    def todo(method: str, T: int) -> bool:
        return (label, method, T) not in done

    is_post_resnet = meta["config"]["arch"].startswith("resnet") and meta["config"]["block"] == "post"
    run_eventsnn_tuned(args, ann, calib, x_test, y_test, args.residual if is_post_resnet else ["standard"],
                       todo, add)
    if args.untuned_tmax and todo("eventsnn-untuned", 1):
        t0 = time.perf_counter()
        snn = convert(ann, calib, args.untuned_tmax, tune=False)
        curve = 100.0 * evaluate_snn(snn, x_test, y_test, args.untuned_tmax, progress=True)
        add_curve("eventsnn-untuned", curve, time.perf_counter() - t0, pow2, args.untuned_tmax, add)
    for mode in args.sj_modes:
        method = f"spikingjelly-{mode.lower().replace('%', '')}"
        if not todo(method, 1):
            continue
        t0 = time.perf_counter()
        snn = sj_convert(ann, calib, mode)
        curve = 100.0 * sj_evaluate(snn, x_test, y_test, args.sj_tmax)
        add_curve(method, curve, time.perf_counter() - t0, pow2, args.sj_tmax, add)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    labels = args.label or [Path(a).parent.name for a in args.ann]
    results = start_results(args, out)
    done = {(r["ann"], r["method"], r["T"]) for r in results["rows"]}
    for path, label in zip(args.ann, labels, strict=True):
        run_ann(path, label, args, results, done, out)
    write(results, out, args.stem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
