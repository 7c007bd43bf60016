"""``eventsnn convert``: ANN checkpoint -> SNN file(s) per T, accuracy table and plot."""

from __future__ import annotations

import argparse

from eventsnn.cli._options import add_overwrite, output_dir, set_threads
from eventsnn.convert.checkpoint import load_ann
from eventsnn.convert.images import conversion_images
from eventsnn.convert.report import conversion_outputs, convert_and_evaluate, write_results
from eventsnn.convert.ttrbr import RESIDUAL_OPTIONS
from eventsnn.errors import InvalidParameterError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert", help="convert a trained ANN (eventsnn train-ann) into spiking networks",
        description="Convert an ANN checkpoint into IF-neuron SNNs (threshold tuning + residual "
                    "restructuring) for each T; writes snn_<residual>[_signed]_T<T>.pt, results.json, "
                    "results.csv and results.png (accuracy vs T with the ANN line) to --out.")
    p.add_argument("checkpoint", help="ann.pt written by eventsnn train-ann")
    p.add_argument("--data", default=None, help="image folder (train/ for calibration, test/ "
                   "for evaluation), 'cifar10' or 'mnist'; default: the one it was trained on")
    p.add_argument("--T", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32],
                   help="time steps to convert for")
    p.add_argument("--residual", nargs="+", default=["standard"], choices=RESIDUAL_OPTIONS,
                   help="residual-block restructuring option(s)")
    p.add_argument("--v-init", default="half", choices=("half", "zero"),
                   help="initial membrane potential: θ/2 or 0")
    p.add_argument("--threshold", default="auto", choices=("auto", "lambda", "max", "percentile"),
                   help="base thresholds: QCFS λ, activation max or percentile (auto: λ for "
                        "QCFS nets, percentile otherwise)")
    p.add_argument("--percentile", type=float, default=99.99)
    p.add_argument("--signed", action="store_true",
                   help="signed IF neurons (negative spikes undo premature ones; best at T <= 8)")
    p.add_argument("--objective", default="output", choices=("output", "layer", "both"),
                   help="threshold-tuning objective: network-output KL (greedy, re-runs the "
                        "network per layer: slow for >50 layers), per-layer rate MSE (one pass), "
                        "or layer then output")
    p.add_argument("--bias-correction", action="store_true",
                   help="after tuning each layer's threshold, calibrate a per-channel bias current "
                        "so its mean rate matches the ANN (needs --objective layer or both)")
    p.add_argument("--no-tune", action="store_true", help="skip threshold tuning")
    p.add_argument("--n-calib", type=int, default=256, help="calibration images (train split)")
    p.add_argument("--max-test", type=int, default=0, help="evaluate on N test images spread over the split "
                   "(0 = all)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--out", required=True, help="output folder")
    add_overwrite(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if any(t < 1 for t in args.T):
        raise InvalidParameterError(f"--T values must be >= 1, got {args.T}")
    if args.n_calib < 1:
        raise InvalidParameterError(f"--n-calib must be >= 1, got {args.n_calib}")
    if args.max_test < 0:
        raise InvalidParameterError(f"--max-test must be >= 0 (0 = all), got {args.max_test}")
    set_threads(args.threads)
    ann, meta = load_ann(args.checkpoint)
    if args.data is None and not meta.get("data"):
        raise InvalidParameterError(f"{args.checkpoint} does not name its data; pass --data")
    with output_dir(args.out, args.overwrite, conversion_outputs(args.T, args.residual, args.signed)) as out:
        images = conversion_images(meta, args.data, n_calib=args.n_calib, max_test=args.max_test)
        results = convert_and_evaluate(
            ann, images.calib, images.x_test, images.y_test, sorted(set(args.T)), args.residual,
            v_init=args.v_init, threshold=args.threshold, percentile=args.percentile, tune=not args.no_tune,
            signed=args.signed, objective=args.objective, bias_correction=args.bias_correction,
            out_dir=out, mean=meta["mean"], std=meta["std"])
        results.update({"checkpoint": str(args.checkpoint), "data": images.data,
                        "arch": meta["config"], "n_test": int(len(images.x_test)),
                        "n_calib": int(len(images.calib))})
        paths = write_results(results, out,
                              title=f"{meta['config']['arch']} ({meta['config']['act']}) on {images.data}")
    print(f"ANN {results['ann_acc']:.2f}%")
    for r in results["rows"]:
        print(f"{r['method']:>28s} T={r['T']:<3d} SNN {r['acc']:.2f}%  (gap {r['gap']:+.2f})")
    print(f"wrote {paths['json']}, {paths['csv']}, {paths['png']}")
    return 0
