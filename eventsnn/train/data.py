"""Training data in memory: the recordings a run uses -> STC frames once -> ``[N, T, P, H, W]``.

Every recording is compressed exactly once per run (before the first epoch); epochs then only
index these tensors. Sources are a registered dataset or a compressed HDF5 file (frames already
made). Which samples train and which validate - the dataset's test split when it is present,
else a seeded stratified hold-out - is chosen by :mod:`eventsnn.datasets.selection`, whose record
of it goes into :attr:`DataBundle.info` (and so into every checkpoint); :func:`eval_frames`
rebuilds from it exactly the same validation recordings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsnn._deprecation import deprecated_names
from eventsnn.datasets import selection
from eventsnn.datasets.compressed import CompressedDataset, read_attributes
from eventsnn.datasets.frames import FrameSet, compress_recordings, load_frames, selection_frames
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import InvalidParameterError
from eventsnn.train.config import TrainConfig
from eventsnn.train.event_augment import AugmentedWindows, EventAugment
from eventsnn.transforms import STC

__all__ = [
    "FrameSet",
    "DataBundle",
    "compress_recordings",
    "load_frames",
    "prepare_data",
    "eval_frames",
]


@dataclass
class DataBundle:
    """Train and validation frames of one run plus what they are.

    Attributes:
        train, val: the frame sets (``train``: an :class:`AugmentedWindows` when its frames are
            remade every epoch, with event-level augmentation).
        classes: class names (``len(classes)`` = number of outputs).
        sensor_size: ``(W, H, P)`` of the recordings before STC.
        stc: the STC settings the frames were made with.
        info: JSON-able description (source, dataset/root or file, limit, validation split and
            held-out indices); stored in checkpoints.
    """

    train: FrameSet | AugmentedWindows
    val: FrameSet
    classes: list[str]
    sensor_size: tuple[int, int, int]
    stc: STC
    info: dict[str, Any]


def _from_dataset(cfg: TrainConfig, progress: bool) -> DataBundle:
    name = str(cfg.dataset)
    chosen = selection.training_splits(
        name, cfg.root, cfg.limit, cfg.val_split, cfg.val_fraction, cfg.split_seed, progress, cfg.dataset_options
    )
    train_ds = chosen.train[0]
    sensor = tuple(int(s) for s in train_ds.sensor_size)
    stc = cfg.stc(sensor)
    augment = EventAugment.from_spec(cfg.event_augment)
    train: FrameSet | AugmentedWindows
    if augment.active:  # frames remade every epoch
        train = AugmentedWindows(*chosen.train, stc, augment, cfg.seed)  # type: ignore[arg-type]
    else:
        train = selection_frames(*chosen.train, stc, progress, f"STC {name} train")
    valset = selection_frames(*chosen.val, stc, progress, f"STC {name} {chosen.record['split']}")
    info = {
        "source": "dataset", "dataset": name, "root": None if cfg.root is None else str(cfg.root),
        "data": None, "limit": cfg.limit, "options": dict(cfg.dataset_options), "val": chosen.record,
        "n_train": len(train), "n_val": len(valset),
    }
    return DataBundle(train, valset, [str(c) for c in train_ds.classes], sensor, stc, info)  # type: ignore[arg-type]


def _from_file(cfg: TrainConfig, progress: bool) -> DataBundle:
    path = str(cfg.data)
    attrs = read_attributes(path)
    chosen = selection.file_training_splits(path, cfg.limit, cfg.val_split, cfg.val_fraction, cfg.split_seed)
    train = selection_frames(*chosen.train)
    valset = selection_frames(*chosen.val)
    info = {
        "source": "file", "dataset": str(attrs.get("dataset", "")) or None, "root": None,
        "data": str(Path(path).resolve()), "limit": cfg.limit, "train_split": chosen.train_split,
        "val": chosen.record, "n_train": len(train), "n_val": len(valset),
    }
    sensor = tuple(int(s) for s in attrs["sensor_size"])
    return DataBundle(train, valset, [str(c) for c in attrs["classes"]], sensor, cfg.stc(sensor), info)  # type: ignore[arg-type]


def prepare_data(cfg: TrainConfig, progress: bool = True) -> DataBundle:
    """Train/validation frames for a *resolved* config (see :func:`resolve_config`)."""
    bundle = _from_file(cfg, progress) if cfg.data is not None else _from_dataset(cfg, progress)
    if len(bundle.train) == 0 or len(bundle.val) == 0:
        raise InvalidParameterError(
            f"need samples to train and validate on, got {len(bundle.train)} and {len(bundle.val)}"
        )
    return bundle


def eval_frames(
    data_info: dict[str, Any],
    stc: STC,
    dataset: str | None = None,
    root: str | Path | None = None,
    data: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    progress: bool = False,
) -> tuple[FrameSet, list[str], dict[str, Any]]:
    """Frames to evaluate a trained model on.

    Args:
        data_info: ``DataBundle.info`` of the training run (``checkpoint["config"]["data"]``).
        stc: STC settings (the training ones, possibly with another ``T``); the recordings are
            compressed on their own sensor.
        dataset, root, data, split, limit: which samples, see
            :func:`eventsnn.datasets.checkpoint_split` (``split="val"``: the validation
            recordings of the training run). A compressed file's ``T`` must equal ``stc.T``.

    Returns:
        ``(frames, classes, description)``; when the samples are windows of long recordings the
        description has ``sample_recordings``: the recording id of each sample.
    """
    ds, idx, desc = selection.checkpoint_split(data_info, dataset, root, data, split, limit, progress)
    ids = getattr(ds, "recording_ids", None)
    if ids is not None:
        desc["sample_recordings"] = [str(ids[int(i)]) for i in idx]
    if isinstance(ds, CompressedDataset):
        if ds.T != stc.T:
            raise InvalidParameterError(
                f"{desc['data']} holds frames with T={ds.T}; evaluating at T={stc.T} needs the "
                f"recordings: use --dataset (and --root) instead of a compressed file"
            )
        frames = selection_frames(ds, idx)
        return frames, [str(c) for c in ds.classes], {**desc, "n": len(frames)}
    frames = selection_frames(ds, idx, stc, progress, f"STC {desc['dataset']} {split}")
    used = dataclasses.replace(stc, sensor_size=ds.sensor_size)  # recordings compress on their sensor
    return frames, [str(c) for c in ds.classes], {**desc, "n": len(frames), "stc": used.to_dict()}


__getattr__ = deprecated_names(__name__, {
    "open_split": (lambda: selection.open_split, "use eventsnn.datasets.open_split"),
    "clear_cache": (lambda: selection.clear_cache, "use eventsnn.datasets.clear_cache"),
    "spread_indices": (lambda: spread_indices, "use eventsnn.datasets.spread_indices"),
})
