"""``eventsnn train``: train a spiking network on an event dataset (thin over eventsnn.train)."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path
from typing import Any

from eventsnn.cli._options import key_value
from eventsnn.cli.compress import add_stc_arguments
from eventsnn.datasets.registry import DATASETS
from eventsnn.datasets.selection import VAL_SPLIT_FORMS, is_val_split
from eventsnn.errors import InvalidParameterError
from eventsnn.nn.presets import preset_names
from eventsnn.train.recipes import NO_RECIPE, recipe_names, recipes_help

#: STC options whose default now comes from the recipe (then the bare defaults)
_STC_HELP = {
    "T": "time steps (default: from the recipe / dataset, e.g. 1 for nmnist; with --data: the file's)",
    "ratio": "compression ratio: fine frames per time step (default: from the recipe, else 1)",
    "mode": "sum fine frames, or decaying synaptic current (default: from the recipe, else sum)",
    "decay": "λ of the exp mode, in (0, 1] (default: from the recipe, else 0.5)",
    "spatial_factor": "integer spatial down-sampling factor (default: from the recipe / dataset / preset)",
}


def _val_split(text: str) -> str:
    if is_val_split(text):
        return text
    raise argparse.ArgumentTypeError(f"expected {VAL_SPLIT_FORMS}, got {text!r}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a spiking network (default: the embedded simulated dataset)",
        description=textwrap.fill(
            "Train a spiking network with the recipe measured best for the dataset and T "
            "(--recipe): options not given come from it, every option given overrides one setting. "
            "When the recipe pre-trains on a simulated set, the run simulates it (or reuses it from "
            "the cache), pre-trains into --out/pretrain (or reuses cached weights), then trains. "
            "Checkpoints (last.pt, best.pt), metrics.csv/json (with the run's CPU-seconds per epoch) "
            "and curves.png go to --out. Runs under torchrun (DDP) unchanged.", 88),
        epilog=recipes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", default="auto", metavar="NAME", choices=["auto", NO_RECIPE, *recipe_names()],
                   help=f"auto (default: the recipe for --dataset and --T), {NO_RECIPE} (bare defaults) or "
                   f"one of {', '.join(recipe_names())}")
    _add_data_options(p)
    _add_model_options(p)
    _add_stc_options(p)
    _add_pretrain_options(p)
    _add_optimisation_options(p)
    _add_run_options(p)
    p.set_defaults(func=run)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--dataset", choices=list(DATASETS), default=None,
                   help="registered dataset (default: 'synthetic', the embedded simulated set)")
    d.add_argument("--root", default=None, help="folder holding the dataset (default: shared data folder)")
    d.add_argument("--data", default=None, help="train from a compressed HDF5 file (eventsnn compress)")
    d.add_argument("--limit", type=int, default=None, help="N samples of each split only (quick runs)")
    d.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction held out for validation when there is no test split (default 0.1)")
    d.add_argument("--val-split", type=_val_split, default="auto", metavar="{auto,holdout,test,session:NAME,recording:ID}",
                   help="validate on the test split when present (auto), always on a hold-out, on test, "
                   "on the recordings of one session (session:NAME) or on the windows of one recording "
                   "(recording:ID, e.g. recording:DataSet2/mug/Caneca for dvs128objects), training on the "
                   "others. Windows of long recordings (dvs128objects) are held out by whole recordings")
    d.add_argument("--dataset-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="a dataset option, e.g. window_us=200000 for dvs128objects (repeatable; default: "
                   "from the recipe, else the dataset's); recorded, so eval and bench cut the same samples")
    d.add_argument("--split-seed", type=int, default=0, help="seed of the validation hold-out (default 0)")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    m = p.add_argument_group("model")
    m.add_argument("--preset", choices=preset_names(), default=None, help="model preset (default: from the recipe / dataset)")
    m.add_argument("--K", "--n-thresholds", dest="n_thresholds", type=int, default=None,
                   help="thresholds of the multi-threshold LIF neurons")
    m.add_argument("--scb", choices=["first", "all", "none"], default=None, help="which conv blocks carry a synaptic current")
    m.add_argument("--per-channel-tau", action="store_true", default=None, help="one membrane tau per channel")
    m.add_argument("--channels", type=int, nargs="+", default=None, help="conv channels per block")
    m.add_argument("--model-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="any other build_model option, e.g. surrogate=arctan or dropout=0.3 (repeatable)")
    m.add_argument("--init-from", default=None,
                   help="start from the weights of this checkpoint (fine-tuning; replaces the recipe's pre-training)")


def _add_stc_options(p: argparse.ArgumentParser) -> None:
    add_stc_arguments(p, default_T=0)
    # None: not given, from the recipe / dataset / preset
    p.set_defaults(T=None, spatial_factor=None, ratio=None, mode=None, decay=None, merge_polarity=None, carry=None)
    for action in p._actions:
        action.help = _STC_HELP.get(action.dest, action.help)


def _add_pretrain_options(p: argparse.ArgumentParser) -> None:
    t = p.add_argument_group("pre-training (a stage of the run, into --out/pretrain; cached)")
    t.add_argument("--pretrain-dataset", choices=list(DATASETS), default=None,
                   help="pre-train on this (simulated) dataset first (default: from the recipe)")
    t.add_argument("--pretrain-epochs", type=int, default=None,
                   help="pre-training epochs; 0: none (default: from the recipe, else 0)")
    t.add_argument("--pretrain-limit", type=int, default=None,
                   help="pre-train on N samples of each split only (default: from the recipe, else all / --limit)")
    t.add_argument("--pretrain-lr", type=float, default=None,
                   help="pre-training Adam learning rate (default: from the recipe, else --lr)")
    t.add_argument("--pretrain-root", default=None,
                   help="folder holding the pre-training dataset (default: --root), e.g. the one with CIFAR10/ "
                   "for --pretrain-dataset cifar10dvs-sim")
    t.add_argument("--cache-dir", default=None,
                   help="cache of simulated sets and pre-trained weights (default: $EVENTSNN_CACHE, "
                   "else the user's cache folder, e.g. ~/.cache/eventsnn)")


def _add_optimisation_options(p: argparse.ArgumentParser) -> None:
    o = p.add_argument_group("optimisation (defaults: from the recipe, else as shown)")
    o.add_argument("--epochs", type=int, default=None, help="epochs (default: from the recipe / dataset)")
    o.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: from the recipe / dataset)")
    o.add_argument("--optimizer", choices=["adam", "adamw"], default=None,
                   help="adam (weight decay as L2) or adamw (decoupled weight decay) (adam)")
    o.add_argument("--lr", type=float, default=None, help="learning rate (1e-3)")
    o.add_argument("--weight-decay", type=float, default=None, help="weight decay (0)")
    o.add_argument("--scheduler", choices=["cosine", "none"], default=None, help="learning-rate schedule (cosine)")
    o.add_argument("--loss", choices=["auto", "ce", "mse"], default=None,
                   help="auto: cross-entropy for logits, MSE to one-hot for spike-rate readouts (auto)")
    o.add_argument("--label-smoothing", type=float, default=None, help="cross-entropy label smoothing (0)")
    o.add_argument("--augment", default=None, metavar="SPEC",
                   help="training-batch augmentation, e.g. shift=2 or shift=2,rotation=10,scale=0.1; none: off")
    o.add_argument("--event-augment", default=None, metavar="SPEC",
                   help="event-level augmentation of the training windows of long recordings, frames remade "
                   "every epoch, e.g. jitter,time=2,drop=0.5,noise=10000,polarity,mirror,rotation=15,scale=0.1,"
                   "shift=4; none: off")
    o.add_argument("--balance", action=argparse.BooleanOptionalAction, default=None,
                   help="draw every class equally often per epoch (default: from the recipe, else off)")
    o.add_argument("--synops-penalty", type=float, default=None, metavar="W",
                   help="add W x (synaptic operations / dense operations) of the spiking layers' "
                   "inputs to the loss: fewer spikes where they drive the most connections (0)")
    o.add_argument("--budget-cpu-s", type=float, default=None, metavar="S",
                   help="CPU-seconds the run may spend: no epoch starts after them, and a stage whose epochs "
                   "do not fit runs those that do, its cosine schedule fitted to them (default: no limit)")
    o.add_argument("--seed", type=int, default=0)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("run")
    r.add_argument("--out", default=None, help="run folder (default: runs/<dataset>)")
    r.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --out")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    r.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision (default: on for CUDA, off for CPU)")
    r.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    r.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    r.add_argument("--resume", action="store_true",
                   help="continue a killed run in --out, in whichever stage (pre-training or training) it was killed")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace):
    """The :class:`eventsnn.train.TrainConfig` of parsed ``train`` arguments."""
    from eventsnn.train import TrainConfig

    model: dict[str, Any] = dict(args.model_arg)
    for key in ("n_thresholds", "scb", "per_channel_tau", "channels"):
        value = getattr(args, key)
        if value is not None:
            model[key] = value
    if "preset" in model:
        raise InvalidParameterError("use --preset to choose the preset, not --model-arg preset=...")
    out = args.out
    if out is None:
        out = str(Path("runs") / (args.dataset or (Path(args.data).stem if args.data else "demo")))
    return TrainConfig(
        out=out, dataset=args.dataset, root=args.root, data=args.data, limit=args.limit,
        dataset_options=dict(args.dataset_option), recipe=args.recipe,
        val_split=args.val_split, val_fraction=args.val_fraction, split_seed=args.split_seed,
        preset=args.preset, model=model, init_from=args.init_from, pretrain_dataset=args.pretrain_dataset,
        pretrain_epochs=args.pretrain_epochs, pretrain_limit=args.pretrain_limit,
        pretrain_lr=args.pretrain_lr, pretrain_root=args.pretrain_root, cache_dir=args.cache_dir,
        T=args.T, ratio=args.ratio, mode=args.mode, decay=args.decay, spatial_factor=args.spatial_factor,
        merge_polarity=args.merge_polarity, carry=args.carry,
        epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, weight_decay=args.weight_decay,
        scheduler=args.scheduler, loss=args.loss, label_smoothing=args.label_smoothing,
        augment=args.augment, event_augment=args.event_augment, balance=args.balance,
        synops_penalty=args.synops_penalty, budget_cpu_s=args.budget_cpu_s, seed=args.seed, device=args.device, amp=args.amp,
        workers=args.workers, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress,
        threads=args.threads,
    )


def run(args: argparse.Namespace) -> int:
    from eventsnn.train import train

    result = train(config_from_args(args), cpu_start=0.0)  # CPU-s from the start of the command
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.final
        print(
            f"done in {result.elapsed_s:.1f} s: best validation accuracy {100 * result.best_val_acc:.2f}% "
            f"(epoch {result.best_epoch}), last epoch {100 * last['val_acc']:.2f}% on "
            f"{last['val_samples']} samples; {last.get('cpu_s', 0.0):.0f} CPU-s; checkpoints {result.best_checkpoint}, "
            f"{result.last_checkpoint}"
        )
    return 0
