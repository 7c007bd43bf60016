"""``eventsnn train-ann``: train a ReLU or QCFS ANN on static images for conversion."""

from __future__ import annotations

import argparse

from eventsnn.cli._options import add_overwrite, positive_int, set_threads
from eventsnn.convert.models import ACTIVATIONS, ARCHS, BLOCKS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-ann", help="train a CIFAR ResNet / VGG ANN (ReLU or QCFS) for conversion",
        description="Train an ANN on an ImageFolder (<folder>/{train,test}/<class>/*.jpg), "
                    "'cifar10' or 'mnist' (shared data). Writes <out>/ann.pt, checkpoint.pt and "
                    "history.json after every epoch.")
    p.add_argument("--data", required=True, help="image folder with train/ and test/, or "
                   "'cifar10' / 'mnist' for the shared copies")
    p.add_argument("--arch", default="resnet20", choices=ARCHS)
    p.add_argument("--act", default="relu", choices=ACTIVATIONS,
                   help="relu, or qcfs (clip-floor-shift, converts at low T)")
    p.add_argument("--levels", type=positive_int, default=4, help="QCFS quantisation levels L")
    p.add_argument("--lam-init", type=float, default=4.0, help="initial QCFS clip level")
    p.add_argument("--block", default="post", choices=BLOCKS,
                   help="residual block: post (act after add) or pre (no act after add)")
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--out", required=True, help="output folder (one holding a run is kept unless "
                   "--resume or --overwrite)")
    add_overwrite(p, "run (ann.pt, checkpoint.pt, history.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from eventsnn.convert.images import load_image_splits
    from eventsnn.convert.models import ModelConfig
    from eventsnn.convert.train_ann import TrainConfig, check_run_folder, train_ann

    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       weight_decay=args.weight_decay, seed=args.seed, threads=args.threads)
    set_threads(args.threads)
    tcfg.check()
    check_run_folder(args.out, overwrite=args.overwrite, resume=args.resume)
    train_set, test_set = load_image_splits(args.data, augment=True)
    x0, _ = train_set[0]
    mcfg = ModelConfig(arch=args.arch, in_channels=int(x0.shape[0]),
                       n_classes=len(train_set.classes), act=args.act, levels=args.levels,
                       lam_init=args.lam_init, block=args.block, width=args.width)
    _, summary = train_ann(mcfg, train_set, test_set, args.out, tcfg, resume=args.resume,
                           data_name=str(args.data))
    print(f"test accuracy {100 * summary['test_acc']:.2f}% after {summary['epochs']} epochs "
          f"-> {summary['ann']}")
    return 0
