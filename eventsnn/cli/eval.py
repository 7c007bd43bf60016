"""``eventsnn eval``: accuracy, confusion matrix and spike rates of a checkpoint on a split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from eventsnn.cli._options import add_overwrite, output_dir, positive_int, set_threads
from eventsnn.datasets.registry import DATASETS

#: the files ``eventsnn eval`` writes; a folder holding one of them holds earlier results
EVAL_FILES = ("eval.json", "spike_rates.json", "confusion.png")


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
    p.add_argument("--split", default=None,
                   help="split to evaluate: test, train, ... or val = the training run's validation "
                   "recordings (its seeded hold-out, or its test split). Default: test when the "
                   "data has a test split, else val")
    p.add_argument("--T", type=positive_int, default=None, help="time steps (default: the training T)")
    p.add_argument("--limit", type=positive_int, default=None, help="N samples of the split only")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", default=None,
                   help="folder for eval.json, spike_rates.json, confusion.png "
                   "(default: <checkpoint folder>/eval-<dataset>-<split>-T<T>)")
    add_overwrite(p, "results (eval.json, spike_rates.json, confusion.png)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _training_data(args: argparse.Namespace, data_info: dict[str, Any]) -> bool:
    """Whether the samples come from the data the checkpoint was trained on (so ``val`` exists)."""
    if args.data is not None:
        return data_info.get("source") == "file" and Path(args.data).resolve() == Path(str(data_info.get("data"))).resolve()
    if args.dataset is not None:
        return data_info.get("source") != "file" and args.dataset == data_info.get("dataset")
    return True


def _source_name(args: argparse.Namespace, data_info: dict[str, Any]) -> str:
    """The name of the evaluated data in the default output folder: dataset, or file stem."""
    if args.data is not None:
        return Path(args.data).stem
    if args.dataset is None and data_info.get("source") == "file":
        return Path(str(data_info.get("data"))).stem
    return str(args.dataset or data_info.get("dataset") or "data")


def _choose_split(args: argparse.Namespace, data_info: dict[str, Any]) -> str:
    """``--split``, or by default ``test`` when it is there, else ``val`` (said on stderr)."""
    from eventsnn.datasets.selection import checkpoint_split
    from eventsnn.errors import DatasetNotFoundError, InvalidParameterError

    if args.split is not None:
        return args.split
    if not _training_data(args, data_info):
        return "test"
    try:
        checkpoint_split(data_info, args.dataset, args.root, args.data, "test", args.limit)
    except (DatasetNotFoundError, InvalidParameterError):
        print("eventsnn eval: no test split found; evaluating on the training run's validation "
              "recordings (--split val)", file=sys.stderr)
        return "val"
    return "test"


def run(args: argparse.Namespace) -> int:
    from eventsnn.errors import DatasetNotFoundError
    from eventsnn.train import evaluate_checkpoint, load_checkpoint, save_eval
    from eventsnn.transforms import STC

    if args.threads is not None:
        set_threads(args.threads)
    config = load_checkpoint(args.checkpoint)["config"]
    split = _choose_split(args, config["data"])
    T = args.T if args.T is not None else STC.from_dict(config["stc"]).T
    name = _source_name(args, config["data"])
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent / f"eval-{name}-{split}-T{T}"
    with output_dir(out, args.overwrite, EVAL_FILES, "evaluation results"):
        try:
            result = evaluate_checkpoint(
                args.checkpoint, dataset=args.dataset, root=args.root, data=args.data, split=split,
                T=args.T, limit=args.limit, batch_size=args.batch_size, device=args.device,
                progress=not args.no_progress,
            )
        except DatasetNotFoundError as exc:
            if split != "test" or not _training_data(args, config["data"]):
                raise
            raise DatasetNotFoundError(
                f"{exc} Use --split val to evaluate on the training run's validation recordings."
            ) from exc
        paths = save_eval(result, out, f"{name} {split}, T={result.T}: {100 * result.accuracy:.2f}% of {result.n}")
    print(f"{name} {split} (T={result.T}, {result.n} samples): accuracy {100 * result.accuracy:.2f}%, "
          f"loss {result.loss:.4f}")
    if result.recordings is not None:  # windows of long recordings: also per recording
        from eventsnn.datasets.slicing import format_recording_table

        print(format_recording_table(result.recordings, float(result.recording_accuracy or 0.0)))
    for layer, r in result.spike_rates.items():
        print(f"  {layer:<28} mean spikes/neuron/step {r['mean_spikes']:.4f}, active {100 * r['active_fraction']:.1f}%")
    print(f"saved {paths['json']}, {paths['spike_rates']}, {paths['confusion']}")
    return 0
