"""``eventsnn compress``: a whole dataset -> one HDF5 file of STC frames."""

from __future__ import annotations

import argparse

from eventsnn.cli._options import (
    add_overwrite,
    key_value,
    non_negative_int,
    positive_int,
    set_threads,
)
from eventsnn.datasets.compressed import compress_dataset, read_attributes
from eventsnn.datasets.registry import DATASETS
from eventsnn.events import SensorSize
from eventsnn.transforms import STC


def add_stc_arguments(p: argparse.ArgumentParser, default_T: int | None = None) -> None:
    """The STC switches shared by compress, train, eval and bench."""
    g = p.add_argument_group("spatio-temporal compression (STC)")
    g.add_argument(
        "--T",
        type=int,
        default=default_T,
        required=default_T is None,
        help="time steps (frames per recording)",
    )
    g.add_argument(
        "--ratio",
        type=int,
        default=1,
        help="compression ratio: fine frames per time step (default 1)",
    )
    g.add_argument(
        "--mode",
        choices=["sum", "exp"],
        default="sum",
        help="sum fine frames, or decaying synaptic current",
    )
    g.add_argument(
        "--decay", type=float, default=0.5, help="λ of the exp mode, in (0, 1] (default 0.5)"
    )
    g.add_argument(
        "--spatial-factor",
        type=int,
        default=1,
        help="integer spatial down-sampling factor (default 1)",
    )
    g.add_argument("--merge-polarity", action="store_true", help="fold ON and OFF into one channel")
    g.add_argument(
        "--carry", action="store_true", help="exp mode: keep the current across time steps"
    )


def stc_from_args(args: argparse.Namespace, sensor_size: SensorSize) -> STC:
    """The :class:`~eventsnn.transforms.STC` of the STC switches, for recordings of ``sensor_size``."""
    return STC(
        sensor_size,
        args.T,
        args.ratio,
        args.mode,
        args.decay,
        args.spatial_factor,
        args.merge_polarity,
        args.carry,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compress",
        help="compress a dataset to one HDF5 file of STC frames",
        description="Read every recording of a dataset, compress it to T frames with STC and "
        "write frames, labels, splits and all settings to one HDF5 file (atomically: a killed "
        "run leaves no partial file; an existing --out is replaced only with --overwrite).",
    )
    p.add_argument("--dataset", required=True, choices=list(DATASETS), help="dataset name")
    p.add_argument(
        "--root", default=None, help="folder holding the dataset (default: shared data folder)"
    )
    p.add_argument(
        "--split", nargs="+", default=None, help="splits to include (default: all present)"
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="N samples of each split only, spread evenly (all classes); simulated "
        "datasets simulate only those",
    )
    p.add_argument(
        "--out", required=True, help="output .h5 file (an existing one is kept unless --overwrite)"
    )
    add_overwrite(p, "file")
    p.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        help="worker processes (default 0: this process); they read, simulate and compress",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads of this process and of each worker (default: torch's choice)",
    )
    p.add_argument(
        "--compression",
        choices=["lzf", "gzip", "none"],
        default="none",
        help="HDF5 filter (default none: fastest reads; lzf/gzip: smaller files)",
    )
    p.add_argument(
        "--storage",
        choices=["auto", "uint8", "uint16", "float32"],
        default="auto",
        help="on-disk dtype of frames (auto: smallest integer type for sum mode)",
    )
    p.add_argument(
        "--dataset-option",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dataset option, e.g. window_us=200000 for dvs128objects (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_stc_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads is not None:
        set_threads(args.threads)
    out = compress_dataset(
        args.dataset,
        args.out,
        stc_from_args(args, DATASETS[args.dataset].sensor_size),
        root=args.root,
        splits=args.split,
        limit=args.limit,
        workers=args.workers,
        compression=None if args.compression == "none" else args.compression,
        progress=not args.no_progress,
        storage=args.storage,
        overwrite=args.overwrite,
        threads=args.threads,
        dataset_kwargs=DATASETS[args.dataset].resolve_options(dict(args.dataset_option)),
    )
    attrs = read_attributes(out)
    print(
        f"wrote {out}: {attrs['n_samples']} samples, frames {tuple(attrs['frame_shape'])}, splits {attrs['split_names']}"
    )
    return 0
