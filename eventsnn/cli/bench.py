"""``eventsnn bench``: accuracy, latency, time to decision and NeuroBench-style cost over a T sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from eventsnn.cli._options import add_overwrite, output_dir, set_threads
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
    add_overwrite(p)
    p.set_defaults(func=run)


#: files ``eventsnn bench`` writes into --out (eventsnn.bench.write_results)
BENCH_FILES = ("results.json", "results.csv", "accuracy_vs_T.png", "latency_vs_T.png", "accuracy_vs_energy.png")

#: what each column of the printed table means (eventsnn.bench.format_table)
COLUMN_LEGEND = (
    ("T", "time steps: each recording (first to last event) compressed into T STC frames"),
    ("acc%", "accuracy on those T frames, the whole recording at once (as eventsnn eval)"),
    ("rec%", "windows of long recordings (dvs128objects): accuracy per recording, by majority vote over "
             "its windows (the per-recording table is in results.json)"),
    ("strm%", "streaming accuracy: the prediction after step T when events arrive in fixed steps "
              "(median recording duration / T each, or --step-us)"),
    ("exit%", "accuracy with early exit: the streaming prediction where it stops, once unchanged "
              "for --stable-steps steps (or its confidence reaches --confidence)"),
    ("exit@", "mean step (1..T) at which early exit stops"),
    ("dec ms", "time to decision: mean sensor time (ms of recording) until the streaming "
               "prediction reaches its final value for good"),
    ("STC ms", "compression time per recording at batch size 1 (median)"),
    ("net ms", "network time per recording at batch size 1 (median)"),
    ("p95 ms", "total time (STC + network) per recording at batch size 1, 95th percentile"),
    ("step ms", "compute time of one streaming step (median)"),
    ("rec/s", "throughput in recordings per second at batch --throughput-batch"),
    ("SynOps M", "synaptic operations per recording, millions: ACs M + MACs M"),
    ("ACs M", "accumulates (binary spike inputs), millions per recording"),
    ("MACs M", "multiply-accumulates (graded spikes, analog inputs), millions per recording"),
    ("µJ", "energy estimate per recording (see below)"),
    ("sparsity", "activation sparsity: fraction of the spiking layers' outputs that are zero, all steps"),
)


def legend() -> str:
    """The column legend printed under the table ("-": not measured, e.g. latency skipped)."""
    width = max(len(name) for name, _ in COLUMN_LEGEND)
    lines = [f"  {name:<{width}}  {meaning}" for name, meaning in COLUMN_LEGEND]
    return "\n".join(["columns (\"-\": not measured; converted SNNs: images instead of recordings):", *lines])


def _check_options(args: argparse.Namespace) -> None:
    """Reject option values the sweep cannot use, before anything is read or written."""
    for option, value, least in (("--T", min(args.T), 1), ("--limit", args.limit, 1),
                                 ("--latency-samples", args.latency_samples, 0),
                                 ("--throughput-batch", args.throughput_batch, 0),
                                 ("--stable-steps", args.stable_steps, 1), ("--step-us", args.step_us, 1),
                                 ("--batch-size", args.batch_size, 1)):
        if value is not None and value < least:
            raise InvalidParameterError(f"{option} must be >= {least}, got {value}")
    if args.confidence is not None and not 0.0 < args.confidence <= 1.0:
        raise InvalidParameterError(f"--confidence must be in (0, 1], got {args.confidence}")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InvalidParameterError(f"--device {args.device}: CUDA is not available on this machine")


def run(args: argparse.Namespace) -> int:
    from eventsnn.bench import bench_checkpoint, format_table
    from eventsnn.checkpoints import checkpoint_kind

    _check_options(args)
    set_threads(args.threads)
    kind = checkpoint_kind(args.checkpoint)
    if kind == "ann":
        raise InvalidParameterError(f"{args.checkpoint}: is an ANN (eventsnn train-ann); convert it first "
                                    "(eventsnn convert) and bench one of the snn_*.pt files it writes")
    if kind == "converted-snn" and not args.data:
        raise InvalidParameterError(f"{args.checkpoint} is a converted SNN: give --data (cifar10, "
                                    "mnist or an image folder)")
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / "bench"
    with output_dir(out, args.overwrite, BENCH_FILES):
        if kind == "converted-snn":
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
    print(legend())
    print("energy: estimate at 45 nm fp32 (0.9 pJ/AC, 4.6 pJ/MAC), synaptic operations only; "
          "graded multi-threshold spikes count as MACs (NeuroBench rule)")
    print(f"saved {out / 'results.json'}, {out / 'results.csv'}, accuracy_vs_T.png, latency_vs_T.png, "
          f"accuracy_vs_energy.png in {out}")
    return 0


def _run_converted(args: argparse.Namespace, out: Path) -> int:
    from eventsnn.bench import format_table
    from eventsnn.bench.static import bench_snn_file
    from eventsnn.bench.sweep import write_results

    res = bench_snn_file(args.checkpoint, args.data, args.T, limit=args.limit or 1000,
                         latency_samples=min(args.latency_samples, 50),
                         batch_size=args.batch_size, stable_steps=args.stable_steps,
                         progress=not args.no_progress)
    write_results(res, out)
    m = res["meta"]
    print(f"{m['dataset']} test ({m['n']} images), converted SNN {m['checkpoint']} "
          f"(converted for T={m['trained_T']}); {m['threads']} thread(s)")
    print(format_table(res["rows"]))
    print(legend())
    print("energy: estimate at 45 nm fp32 (0.9 pJ/AC, 4.6 pJ/MAC), synaptic operations only")
    print(f"saved {out / 'results.json'}, {out / 'results.csv'} and plots in {out}")
    return 0
