"""``eventsnn eval``: accuracy, confusion matrix and spike rates of a checkpoint on a split."""

from __future__ import annotations

import argparse
from pathlib import Path

from eventsnn.datasets.registry import DATASETS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate a trained checkpoint (accuracy, confusion matrix, spike rates)",
        description="Rebuild the model from a checkpoint, compress the recordings of a split with "
        "the training STC settings (or another --T) and report accuracy, a confusion matrix (PNG) "
        "and per-layer spike rates (JSON).",
    )
    p.add_argument("checkpoint", help="a .pt written by eventsnn train (best.pt or last.pt)")
    p.add_argument("--dataset", choices=list(DATASETS), default=None,
                   help="dataset (default: the one the checkpoint was trained on)")
    p.add_argument("--root", default=None, help="folder holding the dataset (default: the training run's)")
    p.add_argument("--data", default=None, help="a compressed HDF5 file instead of --dataset")
    p.add_argument("--split", default="test",
                   help="split to evaluate (default test); 'val' = the training run's validation recordings")
    p.add_argument("--T", type=int, default=None, help="time steps (default: the training T)")
    p.add_argument("--limit", type=int, default=None, help="N samples of the split only")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--out", default=None,
                   help="folder for eval.json, spike_rates.json, confusion.png "
                   "(default: <checkpoint folder>/eval-<dataset>-<split>-T<T>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eventsnn.train import evaluate_checkpoint, save_eval

    result = evaluate_checkpoint(
        args.checkpoint, dataset=args.dataset, root=args.root, data=args.data, split=args.split,
        T=args.T, limit=args.limit, batch_size=args.batch_size, device=args.device,
        progress=not args.no_progress,
    )
    name = result.extra.get("dataset") or Path(str(result.extra.get("data", "data"))).stem
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / f"eval-{name}-{args.split}-T{result.T}"
    paths = save_eval(result, out, f"{name} {args.split}, T={result.T}: {100 * result.accuracy:.2f}% of {result.n}")
    print(f"{name} {args.split} (T={result.T}, {result.n} samples): accuracy {100 * result.accuracy:.2f}%, "
          f"loss {result.loss:.4f}")
    if result.recordings is not None:  # windows of long recordings: also per recording
        from eventsnn.datasets.slicing import format_recording_table

        print(format_recording_table(result.recordings, float(result.recording_accuracy or 0.0)))
    for layer, r in result.spike_rates.items():
        print(f"  {layer:<28} mean spikes/neuron/step {r['mean_spikes']:.4f}, active {100 * r['active_fraction']:.1f}%")
    print(f"saved {paths['json']}, {paths['spike_rates']}, {paths['confusion']}")
    return 0
