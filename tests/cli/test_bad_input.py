"""Every command through the catalogue of bad inputs: exit status 2, one line on stderr naming
the file or option, no traceback, nothing left behind (see ``cli_catalogue.py``): compress,
eval, train-ann, train, convert, bench and show."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from _conversion_files import write_tiny_ann
from cli_catalogue import Case, case, check_in_process, check_subprocess
from PIL import Image

from eventsnn.convert import convert, save_snn
from eventsnn.datasets import compress_dataset
from eventsnn.events import make_events
from eventsnn.io import write_bin_events
from eventsnn.nn import build_model as build_snn
from eventsnn.train import TrainConfig, save_checkpoint, train
from eventsnn.transforms import STC

STC_ARGS = ("--T", "2")


def _damage_a_gzip_chunk(src: Path, dst: Path) -> None:
    """``dst``: ``src`` with bytes in the middle of its second gzip chunk of frames overwritten."""
    with h5py.File(src) as f:
        info = f["frames"].id.get_chunk_info(1)
    raw = bytearray(src.read_bytes())
    start = info.byte_offset + info.size // 3
    raw[start : start + 64] = b"\x55" * 64
    dst.write_bytes(bytes(raw))


class Opaque:
    """Pickled by torch.save; refused by weights_only loading."""

    def __init__(self) -> None:
        self.weights = [1.0]


def _convert_show_files(d: Path, data_dir: Path) -> None:
    """``d``: a tiny ANN and its image folder, an SNN converted from it, an SNN training
    checkpoint for 17x17 frames, files that are no checkpoint at all, event files that do not
    fit their sensor, broken recordings, and folders holding earlier results."""
    ann = write_tiny_ann(d, per_class=3)
    save_snn(convert(ann, torch.rand(4, 3, 12, 12), T=2, tune=False, mean=[0.5] * 3, std=[0.25] * 3),
             d / "snn_standard_T2.pt")
    snn = build_snn("synthetic", channels=[4, 8], n_thresholds=2, spatial_factor=2)
    save_checkpoint(d / "best.pt", {"epoch": 0, "model_state": snn.state_dict(),
                                    "config": {"model": snn.config, "classes": [str(i) for i in range(10)]}})
    (d / "random.pt").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    torch.save({"format": "eventsnn-ann", "model": Opaque()}, d / "pickled.pt")
    write_bin_events(d / "wide.bin", make_events([1, 40, 5], [1, 2, 3], [0, 10, 20], [0, 1, 0]))
    np.save(d / "negative.npy", make_events([1, -3, 5], [1, 2, 3], [0, 10, 20], [0, 1, 0]))
    (d / "not_a_dir").write_text("a file")
    (d / "cut.aedat").write_bytes((data_dir / "DVS128Objects/DataSet2/mech_pencil/Lapiseira.aedat").read_bytes()[:5003])
    (d / "empty.aedat4").write_bytes(b"")
    (d / "rec.txt").write_text("1 2 3 4")
    for folder, earlier in (("old_convert", "results.json"), ("old_bench", "results.csv"),
                            ("old_pics", "event_rate.png")):
        (d / folder).mkdir()
        (d / folder / earlier).write_text("earlier")


def _image_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k, cls in enumerate(("dark", "light")):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(4):
                arr = np.clip(40 + 160 * k + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")


@pytest.fixture(scope="module")
def paths(tmp_path_factory, data_dir: Path, nmnist_files: list[Path], dvs_clips: list[Path]) -> dict[str, Path]:
    """Everything the bad command lines point at, in one folder (the root of the snapshots)."""
    root = tmp_path_factory.mktemp("catalogue")
    h5 = compress_dataset("synthetic", root / "syn.h5", STC((34, 34, 2), 2), compression="gzip",
                          progress=False, dataset_kwargs={"n_samples": 40})
    _damage_a_gzip_chunk(h5, root / "damaged_chunk.h5")
    (root / "truncated.h5").write_bytes(h5.read_bytes()[:3000])
    run = train(TrainConfig(data=str(h5), epochs=1, batch_size=20, model={"channels": [4], "n_thresholds": 1},
                            out=str(root / "run"), progress=False, threads=1))
    (root / "garbage.pt").write_bytes(b"\x00garbage" * 64)
    torch.save({"format": "eventsnn-checkpoint", "model": torch.nn.Linear(2, 2)}, root / "pickled.pt")
    (root / "a_file").write_text("a regular file")
    (root / "old_eval").mkdir()
    (root / "old_eval" / "eval.json").write_text("{}")
    (root / "old_ann_run").mkdir()
    (root / "old_ann_run" / "checkpoint.pt").write_bytes(b"earlier run")
    (root / "existing.h5").write_bytes(b"earlier results")
    (root / "a_folder").mkdir()
    _image_folder(root / "images")
    (root / "conv").mkdir()
    _convert_show_files(root / "conv", data_dir)
    return {"root": root, "data": data_dir, "h5": h5, "ckpt": Path(run.best_checkpoint), "run": root / "run",
            "damaged": root / "damaged_chunk.h5", "truncated": root / "truncated.h5", "conv": root / "conv",
            "nmnist0": nmnist_files[0], "dvs0": dvs_clips[0]}


COMPRESS = [
    case("compress-unknown-dataset", "compress", "--dataset", "nosuch", *STC_ARGS, "--out", "{root}/x.h5",
         names="--dataset"),
    case("compress-T0", "compress", "--dataset", "synthetic", "--T", "0", "--out", "{root}/x.h5", names="T must be"),
    case("compress-ratio0", "compress", "--dataset", "synthetic", *STC_ARGS, "--ratio", "0",
         "--out", "{root}/x.h5", names="ratio"),
    case("compress-decay", "compress", "--dataset", "synthetic", *STC_ARGS, "--mode", "exp", "--decay", "1.5",
         "--out", "{root}/x.h5", names="decay"),
    case("compress-missing-root", "compress", "--dataset", "nmnist", "--root", "{root}/nowhere", *STC_ARGS,
         "--out", "{root}/x.h5", names="{root}/nowhere"),
    case("compress-missing-split", "compress", "--dataset", "nmnist", "--root", "{data}", "--split", "test",
         *STC_ARGS, "--out", "{root}/x.h5", names="NMNIST/Test"),
    case("compress-out-exists", "compress", "--dataset", "synthetic", *STC_ARGS, "--out", "{root}/existing.h5",
         names="{root}/existing.h5: the compressed dataset exists; pass --overwrite"),
    case("compress-out-is-folder", "compress", "--dataset", "synthetic", *STC_ARGS, "--out", "{root}/a_folder",
         names="{root}/a_folder: is a folder"),
    case("compress-out-under-file", "compress", "--dataset", "synthetic", *STC_ARGS,
         "--out", "{root}/a_file/x.h5", names="{root}/a_file is a file"),
    case("compress-threads0", "compress", "--dataset", "synthetic", *STC_ARGS, "--threads", "0",
         "--out", "{root}/x.h5", names="--threads"),
    case("compress-workers-negative", "compress", "--dataset", "synthetic", *STC_ARGS, "--workers", "-1",
         "--out", "{root}/x.h5", names="--workers"),
    case("compress-limit0", "compress", "--dataset", "synthetic", *STC_ARGS, "--limit", "0",
         "--out", "{root}/x.h5", names="--limit"),
]

EVAL = [
    case("eval-missing-checkpoint", "eval", "{root}/missing.pt", names="{root}/missing.pt"),
    case("eval-garbage-checkpoint", "eval", "{root}/garbage.pt", names="{root}/garbage.pt"),
    case("eval-pickled-checkpoint", "eval", "{root}/pickled.pt", names="refusing to unpickle"),
    case("eval-batch-size0", "eval", "{ckpt}", "--batch-size", "0", names="--batch-size"),
    case("eval-threads0", "eval", "{ckpt}", "--threads", "0", names="--threads"),
    case("eval-T0", "eval", "{ckpt}", "--T", "0", names="--T"),
    case("eval-unknown-dataset", "eval", "{ckpt}", "--dataset", "nosuch", names="--dataset"),
    case("eval-missing-data", "eval", "{ckpt}", "--data", "{root}/none.h5", names="{root}/none.h5"),
    case("eval-truncated-data", "eval", "{ckpt}", "--data", "{truncated}", "--split", "train",
         names="{truncated}"),
    case("eval-damaged-gzip-chunk", "eval", "{ckpt}", "--data", "{damaged}", "--split", "train",
         "--out", "{root}/ev", names="{damaged}"),
    case("eval-unknown-split", "eval", "{ckpt}", "--split", "nosuch", "--out", "{root}/ev",
         names="nosuch"),
    case("eval-missing-root", "eval", "{ckpt}", "--dataset", "nmnist", "--root", "{root}/nowhere",
         "--out", "{root}/ev", names="{root}/nowhere"),
    case("eval-out-under-file", "eval", "{ckpt}", "--out", "{root}/a_file/ev", names="{root}/a_file is a file"),
    case("eval-out-holds-results", "eval", "{ckpt}", "--out", "{root}/old_eval",
         names="{root}/old_eval: holds earlier evaluation results (eval.json); pass --overwrite"),
]

TRAIN_ANN = [
    case("train-ann-missing-data", "train-ann", "--data", "{root}/no_images", "--out", "{root}/ann",
         names="{root}/no_images"),
    case("train-ann-out-under-file", "train-ann", "--data", "{root}/images", "--out", "{root}/a_file/ann",
         names="{root}/a_file is a file"),
    case("train-ann-out-holds-run", "train-ann", "--data", "{root}/images", "--out", "{root}/old_ann_run",
         names="{root}/old_ann_run: holds earlier training run (checkpoint.pt); pass --resume"),
    case("train-ann-threads0", "train-ann", "--data", "{root}/images", "--threads", "0", "--out", "{root}/ann",
         names="--threads"),
    case("train-ann-batch-size0", "train-ann", "--data", "{root}/images", "--batch-size", "0",
         "--out", "{root}/ann", names="--batch-size"),
    case("train-ann-epochs0", "train-ann", "--data", "{root}/images", "--epochs", "0", "--out", "{root}/ann",
         names="--epochs"),
    case("train-ann-lr0", "train-ann", "--data", "{root}/images", "--lr", "0", "--out", "{root}/ann",
         names="lr must be > 0"),
    case("train-ann-unknown-arch", "train-ann", "--data", "{root}/images", "--arch", "nosuch",
         "--out", "{root}/ann", names="--arch"),
]

def train_case(id: str, *args: str, names: str, out: str = "{root}/tr") -> Case:
    """A ``train`` case on the compressed file unless ``args`` name other data; ``--out`` last."""
    data = () if {"--data", "--dataset"} & set(args) else ("--data", "{h5}")
    return case(id, "train", *data, *args, "--out", out, names=names)


TRAIN = [
    train_case("train-unknown-dataset", "--dataset", "nosuch", names="--dataset"),
    train_case("train-T0", "--T", "0", names="T"),
    train_case("train-ratio0", "--dataset", "synthetic", "--ratio", "0", names="ratio"),
    train_case("train-decay", "--dataset", "synthetic", "--mode", "exp", "--decay", "1.5", names="decay"),
    train_case("train-out-holds-run", names="{run}: holds earlier results (last.pt, best.pt); pass --resume",
          out="{run}"),
    train_case("train-threads0", "--threads", "0", names="threads must be an integer >= 1"),
    train_case("train-missing-root", "--dataset", "nmnist", "--root", "{root}/nowhere", names="{root}/nowhere"),
    train_case("train-missing-data", "--data", "{root}/none.h5", names="{root}/none.h5"),
    train_case("train-truncated-data", "--data", "{truncated}", names="{truncated}"),
    train_case("train-damaged-gzip-chunk", "--data", "{damaged}", names="{damaged}"),
    train_case("train-out-under-file", names="{root}/a_file", out="{root}/a_file/tr"),
    train_case("train-batch-size0", "--batch-size", "0", names="batch_size"),
    train_case("train-unknown-model-arg", "--model-arg", "nosuch=1", names="nosuch"),
    train_case("train-bad-augment", "--augment", "wobble=3", names="wobble"),
    train_case("train-unknown-recording", "--dataset", "dvs128objects", "--root", "{data}", "--val-split",
               "recording:DataSet2/mug/nosuch", names="recording 'DataSet2/mug/nosuch' out: no sample is from it "
               "(recordings: DataSet/box/caixa, "),
]


def checkpoint_case(command: str, name: str, says: str) -> Case:
    """``convert`` / ``bench`` of ``conv/<name>``, a file that is not the checkpoint they take."""
    return case(f"{command}-{name}", command, f"{{conv}}/{name}", "--out", "{root}/out", names=name, also=(says,))


def option_case(command: str, checkpoint: str, option: str, value: str) -> Case:
    return case(f"{command}-{option.lstrip('-')}-{value}", command, f"{{conv}}/{checkpoint}", option, value,
                "--out", "{root}/out", names=option)


CONVERT_BENCH = [
    checkpoint_case("convert", "random.pt", "not an eventsnn checkpoint (not a PyTorch zip archive"),
    checkpoint_case("convert", "pickled.pt", "not an eventsnn file: it holds objects other than tensors and plain "
                                             "Python values, and eventsnn refuses to unpickle them"),
    checkpoint_case("convert", "missing.pt", "checkpoint not found"),
    checkpoint_case("convert", "snn_standard_T2.pt", "is a converted SNN (eventsnn convert), not an eventsnn-ann file"),
    checkpoint_case("convert", "best.pt", "is an SNN training checkpoint (eventsnn train), not an eventsnn-ann file"),
    checkpoint_case("bench", "random.pt", "not a PyTorch zip archive"),
    checkpoint_case("bench", "pickled.pt", "refuses to unpickle"),
    checkpoint_case("bench", "ann.pt", "is an ANN (eventsnn train-ann); convert it first"),
    checkpoint_case("bench", "snn_standard_T2.pt", "is a converted SNN: give --data"),
    *(option_case("convert", "ann.pt", o, v) for o, v in (("--threads", "0"), ("--n-calib", "0"),
                                                          ("--max-test", "-1"), ("--T", "0"))),
    *(option_case("bench", "best.pt", o, v) for o, v in (("--threads", "0"), ("--limit", "0"), ("--batch-size", "0"),
                                                         ("--stable-steps", "0"), ("--confidence", "1.5"),
                                                         ("--latency-samples", "-1"))),
    case("convert-out-holds-results", "convert", "{conv}/ann.pt", "--T", "2", "--out", "{conv}/old_convert",
         names="{conv}/old_convert", also=("--out", "results.json", "pass --overwrite")),
    case("bench-out-holds-results", "bench", "{conv}/snn_standard_T2.pt", "--data", "{conv}/images",
         "--out", "{conv}/old_bench", names="{conv}/old_bench", also=("--out", "results.csv", "pass --overwrite")),
    case("convert-out-under-file", "convert", "{conv}/ann.pt", "--out", "{conv}/not_a_dir/x", names="--out",
         also=("not_a_dir",)),
    # missing data, found after the --out check: the folders the check created are removed again
    case("convert-missing-data", "convert", "{conv}/ann.pt", "--data", "{root}/nodata", "--out", "{root}/new/conv",
         names="nodata"),
]


def show_case(id: str, *args: str, names: str, also: tuple[str, ...] = ()) -> Case:
    """A ``show`` case; ``--out`` (a new folder) last."""
    return case(id, "show", *args, "--out", "{root}/pics", names=names, also=also)


SHOW = [
    show_case("show-x-off-the-given-sensor", "{conv}/wide.bin", "--sensor", "34", "34", names="wide.bin",
              also=("x ranges over [1, 40] but the sensor is 34x34",)),
    show_case("show-negative-x", "{conv}/negative.npy", names="negative.npy",
              also=("coordinates cannot be negative",)),
    *(show_case(f"show-{'-'.join(a.lstrip('-') for a in args)}", "{conv}/wide.bin", *args, names=args[0])
      for args in (("--threads", "0"), ("--sensor", "0", "34"), ("--sensor", "34"), ("--T", "0"), ("--dpi", "0"),
                   ("--frame-ms", "0"), ("--max-frames", "0"))),
    show_case("show-sensor-of-a-dataset", "--dataset", "synthetic", "--sensor", "34", "34", names="--sensor"),
    show_case("show-model-is-an-ann", "{nmnist0}", "--model", "{conv}/ann.pt", names="ann.pt",
              also=("is an ANN (eventsnn train-ann), not an SNN training checkpoint",)),
    show_case("show-model-is-random", "{nmnist0}", "--model", "{conv}/random.pt", names="random.pt",
              also=("not a PyTorch zip archive",)),
    show_case("show-model-is-pickled", "{nmnist0}", "--model", "{conv}/pickled.pt", names="pickled.pt",
              also=("refuses to unpickle",)),
    show_case("show-model-for-other-frames", "{dvs0}", "--model", "{conv}/best.pt", names="best.pt",
              also=("{dvs0.name}", "the model expects frames [T, 2, 17, 17]")),
    show_case("show-truncated-aedat", "{conv}/cut.aedat", names="cut.aedat", also=("truncated",)),
    show_case("show-empty-aedat4", "{conv}/empty.aedat4", names="empty.aedat4"),
    show_case("show-unknown-suffix", "{conv}/rec.txt", names="rec.txt", also=(".aedat",)),
    case("show-out-holds-pictures", "show", "{nmnist0}", "--no-animation", "--out", "{conv}/old_pics",
         names="--out", also=("event_rate.png", "earlier pictures", "--overwrite")),
]

CATALOGUE = COMPRESS + EVAL + TRAIN_ANN + TRAIN + CONVERT_BENCH + SHOW


def _id(c) -> str:
    return c.id if isinstance(c, Case) else c.values[0].id


@pytest.mark.parametrize("c", CATALOGUE, ids=_id)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(c, paths, capsys, monkeypatch) -> None:
    monkeypatch.chdir(paths["root"])  # default output folders land where the snapshot sees them
    check_in_process(c, paths, capsys, paths["root"])


@pytest.mark.parametrize("c", [c for c in CATALOGUE if isinstance(c, Case) and c.id in (
    "compress-out-exists", "eval-damaged-gzip-chunk", "train-damaged-gzip-chunk", "train-ann-out-holds-run",
    "convert-pickled.pt", "show-negative-x",
)], ids=lambda c: c.id)
def test_bad_input_in_a_fresh_process_prints_no_traceback(c, paths) -> None:
    check_subprocess(c, paths, paths["root"])
