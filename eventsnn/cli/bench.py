"""``eventsnn bench``: accuracy, latency, time to decision and NeuroBench-style cost over a T sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from eventsnn.datasets.registry import DATASETS
from eventsnn.errors import InvalidParameterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark a checkpoint over time steps T (accuracy, latency, time to decision, cost)",
        description="Rebuild the model from a checkpoint and, for every --T, measure on a split: "
        "accuracy; latency per recording at batch size 1 (STC and network, median and p95) and "
        "throughput; streaming time to decision and early-exit accuracy; NeuroBench-style cost "
        "(footprint, activation sparsity, effective ACs/MACs, dense SynOps, energy estimate at "
        "45 nm: 0.9 pJ/AC, 4.6 pJ/MAC). Writes results.json, results.csv and PNG plots to --out.",
    )
    p.add_argument("checkpoint", help="a .pt written by eventsnn train (best.pt or last.pt), or a "
                   "converted SNN written by eventsnn convert (then give --data)")
    p.add_argument("--data", default=None, help="converted SNNs: image data (cifar10, mnist or a "
                   "folder with test/<class>/*), evaluated on its test split")
    p.add_argument("--dataset", choices=list(DATASETS), default=None,
                   help="dataset (default: the one the checkpoint was trained on)")
    p.add_argument("--root", default=None, help="folder holding the dataset (default: the training run's)")
    p.add_argument("--split", default="val",
                   help="split (default val = the training run's validation recordings, e.g. the "
                   "seeded hold-out recorded in the checkpoint); or test, train")
    p.add_argument("--T", type=int, nargs="+", default=[1, 2, 4, 8], help="time steps to sweep (default 1 2 4 8)")
    p.add_argument("--out", default=None, help="output folder (default: <checkpoint folder>/bench)")
    p.add_argument("--limit", type=int, default=None, help="N recordings of the split only")
    p.add_argument("--latency-samples", type=int, default=100,
                   help="recordings timed at batch size 1 per T (default 100; 0 = skip)")
    p.add_argument("--throughput-batch", type=int, default=128, help="batch of the throughput run (0 = skip)")
    p.add_argument("--stable-steps", type=int, default=2,
                   help="early exit once the running prediction is unchanged for this many steps (default 2)")
    p.add_argument("--confidence", type=float, default=None,
                   help="also exit early once the confidence (softmax / rate share) reaches this")
    p.add_argument("--step-us", type=int, default=None,
                   help="streaming step in µs (default: median recording duration / T)")
    p.add_argument("--batch-size", type=int, default=32, help="batch for accuracy and cost (default 32)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: steadier latency on a shared machine)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from eventsnn.bench import bench_checkpoint, format_table

    if min(args.T) < 1:
        raise InvalidParameterError(f"--T values must be >= 1, got {args.T}")
    if args.threads < 1:
        raise InvalidParameterError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "bench"
    if _is_converted_snn(args.checkpoint):
        return _run_converted(args, out)
    res = bench_checkpoint(
        args.checkpoint, dataset=args.dataset, root=args.root, split=args.split, T=args.T, out=out,
        limit=args.limit, latency_samples=args.latency_samples, throughput_batch=args.throughput_batch,
        stable_steps=args.stable_steps, confidence_threshold=args.confidence, step_us=args.step_us,
        batch_size=args.batch_size, device=args.device, progress=not args.no_progress,
    )
    m = res["meta"]
    print(f"{m['dataset']} {m['split']} ({m['n']} recordings), checkpoint {m['checkpoint']} "
          f"(trained T={m['trained_T']}); {m['threads']} thread(s), load average {m['load_avg_end']}")
    print(format_table(res["rows"]))
    print("energy: estimate at 45 nm fp32 (0.9 pJ/AC, 4.6 pJ/MAC), synaptic operations only; "
          "graded multi-threshold spikes count as MACs (NeuroBench rule)")
    print(f"saved {out / 'results.json'}, {out / 'results.csv'}, accuracy_vs_T.png, latency_vs_T.png, "
          f"accuracy_vs_energy.png in {out}")
    return 0


def _is_converted_snn(path: str) -> bool:
    import torch

    from eventsnn.convert.checkpoint import SNN_FORMAT

    if not Path(path).is_file():
        return False
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not a readable checkpoint: bench_checkpoint reports it
        return False
    return isinstance(payload, dict) and payload.get("format") == SNN_FORMAT


def _run_converted(args: argparse.Namespace, out: Path) -> int:
    from eventsnn.bench import format_table
    from eventsnn.bench.static import bench_snn_file
    from eventsnn.bench.sweep import write_results

    if not args.data:
        raise InvalidParameterError(f"{args.checkpoint} is a converted SNN: give --data (cifar10, "
                                    "mnist or an image folder)")
    res = bench_snn_file(args.checkpoint, args.data, args.T, limit=args.limit or 1000,
                         latency_samples=min(args.latency_samples, 50),
                         batch_size=args.batch_size, stable_steps=args.stable_steps,
                         progress=not args.no_progress)
    write_results(res, out)
    m = res["meta"]
    print(f"{m['dataset']} test ({m['n']} images), converted SNN {m['checkpoint']} "
          f"(converted for T={m['trained_T']}); {m['threads']} thread(s)")
    print(format_table(res["rows"]))
    print("energy: estimate at 45 nm fp32 (0.9 pJ/AC, 4.6 pJ/MAC), synaptic operations only")
    print(f"saved {out / 'results.json'}, {out / 'results.csv'} and plots in {out}")
    return 0
