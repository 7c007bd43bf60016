"""Training data in memory: recordings -> STC frames once per run -> ``[N, T, P, H, W]`` tensors.

Every recording is compressed exactly once per run (before the first epoch) with
:func:`eventsnn.functional.stc.stc_numpy_batch`; epochs then only index these tensors.
Sources are a registered dataset (``get_dataset(name, root, split)``) or a compressed HDF5 file
(:class:`eventsnn.datasets.CompressedDataset`, frames already made).

Validation: the dataset's ``test`` split when it is present, else a seeded stratified hold-out
of the train split (:func:`eventsnn.datasets.stratified_split`). What was used - split, seed,
fraction and the held-out indices - is recorded in :attr:`DataBundle.info` (and so in every
checkpoint), which lets :func:`eval_frames` rebuild exactly the same validation recordings.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.data
from tqdm.auto import tqdm

from eventsnn.compress import STCParams
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.compressed import CompressedDataset, read_attributes
from eventsnn.datasets.registry import DATASETS, get_dataset
from eventsnn.datasets.splits import spread_indices, stratified_split
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.functional.stc import stc_output_shape
from eventsnn.train.config import TrainConfig, dataset_defaults

__all__ = [
    "FrameSet",
    "DataBundle",
    "spread_indices",
    "open_split",
    "clear_cache",
    "compress_recordings",
    "load_frames",
    "prepare_data",
    "eval_frames",
]

CHUNK = 256
_SIMULATED = ("synthetic", "nmnist-sim", "cifar10dvs-sim")
_SIM_CACHE: OrderedDict[tuple, EventDataset] = OrderedDict()
_SIM_CACHE_SIZE = 2


class FrameSet(torch.utils.data.Dataset):
    """Frames ``x [N, T, P, H, W]`` (float32) and labels ``y [N]`` (int64), in memory.

    ``frameset[i]`` gives ``(x[i], y[i])``; ``frameset[list_of_indices]`` a whole batch
    ``([B, T, P, H, W], [B])`` at once (used with ``DataLoader(batch_size=None)``).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.ndim != 5 or y.ndim != 1 or len(x) != len(y):
            raise InvalidParameterError(
                f"frames must be [N, T, P, H, W] with N labels, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        self.x = x.float().contiguous()
        self.y = y.long().contiguous()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.long)
        return self.x[index], self.y[index]

    @property
    def T(self) -> int:
        return int(self.x.shape[1])

    def __repr__(self) -> str:
        return f"FrameSet(samples={len(self)}, frames={tuple(self.x.shape[1:])})"


@dataclass
class DataBundle:
    """Train and validation frames of one run plus what they are.

    Attributes:
        train, val: the frame sets.
        classes: class names (``len(classes)`` = number of outputs).
        sensor_size: ``(W, H, P)`` of the recordings before STC.
        stc: the STC settings the frames were made with.
        info: JSON-able description (source, dataset/root or file, limit, validation split and
            held-out indices); stored in checkpoints.
    """

    train: FrameSet
    val: FrameSet
    classes: list[str]
    sensor_size: tuple[int, int, int]
    stc: STCParams
    info: dict[str, Any]


def clear_cache() -> None:
    """Forget the simulated datasets kept by :func:`open_split` (frees their recordings)."""
    _SIM_CACHE.clear()


def _dataset_kwargs(name: str, split: str, limit: int | None, progress: bool) -> dict[str, Any]:
    if name == "synthetic":
        sizes = dataset_defaults(name).get("n_samples", {})
        n = limit if limit is not None else sizes.get(split)
        return {"n_samples": n, "progress": progress}
    if name == "nmnist-sim":
        return {"limit": limit, "progress": progress}
    if name == "cifar10dvs-sim":
        per_class = None if limit is None else math.ceil(limit / 10)
        return {"limit_per_class": per_class, "progress": progress}
    return {}


def open_split(
    name: str,
    root: str | Path | None,
    split: str,
    limit: int | None = None,
    progress: bool = False,
) -> tuple[EventDataset, np.ndarray]:
    """Open split ``split`` of dataset ``name`` and pick the ``limit`` samples used.

    Simulated datasets generate only what is needed and are cached in memory (the last two
    opened, see :func:`clear_cache`), since their recordings are a pure function of
    ``(seed, split, index)``: repeated runs in one process simulate once.

    Returns:
        ``(dataset, indices)``: the indices into ``dataset`` that make up the (limited) split.
    """
    kw = _dataset_kwargs(name, split, limit, progress)
    if name in _SIMULATED:
        key = (name, str(root), split, tuple(sorted((k, v) for k, v in kw.items() if k != "progress")))
        ds = _SIM_CACHE.get(key)
        if ds is None:
            ds = get_dataset(name, root, split, **kw)
            _SIM_CACHE[key] = ds
            while len(_SIM_CACHE) > _SIM_CACHE_SIZE:
                _SIM_CACHE.popitem(last=False)
        else:
            _SIM_CACHE.move_to_end(key)
    else:
        ds = get_dataset(name, root, split, **kw)
    if len(ds) == 0:
        raise DatasetNotFoundError(f"{name} {split}: no recordings found")
    return ds, spread_indices(len(ds), limit)


def compress_recordings(
    dataset: EventDataset,
    indices: np.ndarray,
    stc: STCParams,
    progress: bool = False,
    desc: str = "STC",
) -> torch.Tensor:
    """Read and compress the recordings ``indices`` of ``dataset`` into ``[N, T, P', H', W']``."""
    shape = stc_output_shape(
        tuple(dataset.sensor_size), stc.n_time_steps, stc.spatial_factor, stc.merge_polarity
    )
    out = np.empty((len(indices), *shape), dtype=np.float32)
    with tqdm(total=len(indices), desc=desc, unit="rec", disable=not progress, leave=False) as bar:
        for s in range(0, len(indices), CHUNK):
            chunk = indices[s : s + CHUNK]
            recordings = [dataset.read(int(i)) for i in chunk]
            out[s : s + len(chunk)] = stc.frames(recordings, tuple(dataset.sensor_size))
            bar.update(len(chunk))
    return torch.from_numpy(out)


def _targets(dataset: EventDataset, indices: np.ndarray) -> torch.Tensor:
    t = np.asarray(dataset.targets, dtype=np.int64)
    return torch.from_numpy(t[indices] if len(indices) else np.zeros(0, np.int64))


def load_frames(
    name: str,
    root: str | Path | None,
    split: str,
    stc: STCParams,
    limit: int | None = None,
    indices: np.ndarray | None = None,
    progress: bool = False,
) -> FrameSet:
    """Frames of split ``split`` of dataset ``name`` (``limit`` samples; or the ``indices`` of
    that limited split), compressed once with ``stc``."""
    ds, idx = open_split(name, root, split, limit, progress)
    if indices is not None:
        idx = idx[np.asarray(indices, dtype=np.int64)]
    return FrameSet(compress_recordings(ds, idx, stc, progress, f"STC {name} {split}"), _targets(ds, idx))


def _holdout(labels: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    return stratified_split(labels, float(cfg.val_fraction), int(cfg.split_seed))


def _from_dataset(cfg: TrainConfig, progress: bool) -> DataBundle:
    name = str(cfg.dataset)
    stc = cfg.stc()
    spec = DATASETS[name]
    train_ds, train_idx = open_split(name, cfg.root, "train", cfg.limit, progress)
    val_kind = "holdout"
    test_ds = None
    if cfg.val_split in ("auto", "test") and "test" in spec.splits:
        try:
            test_ds, test_idx = open_split(name, cfg.root, "test", cfg.limit, progress)
            val_kind = "test"
        except DatasetNotFoundError:
            if cfg.val_split == "test":
                raise
    elif cfg.val_split == "test":
        raise InvalidParameterError(f"{name} has no test split")
    labels = np.asarray(train_ds.targets, dtype=np.int64)[train_idx]
    val: dict[str, Any] = {"kind": val_kind}
    if val_kind == "holdout":
        keep, hold = _holdout(labels, cfg)
        val.update(split="train", fraction=float(cfg.val_fraction), seed=int(cfg.split_seed),
                   indices=[int(i) for i in hold], n_split=len(train_idx))
        x = compress_recordings(train_ds, train_idx, stc, progress, f"STC {name} train")
        y = _targets(train_ds, train_idx)
        train = FrameSet(x[keep], y[keep])
        valset = FrameSet(x[hold], y[hold])
    else:
        assert test_ds is not None
        val.update(split="test", indices=None, n_split=len(test_idx))
        train = FrameSet(compress_recordings(train_ds, train_idx, stc, progress, f"STC {name} train"),
                         _targets(train_ds, train_idx))
        valset = FrameSet(compress_recordings(test_ds, test_idx, stc, progress, f"STC {name} test"),
                          _targets(test_ds, test_idx))
    info = {
        "source": "dataset", "dataset": name, "root": None if cfg.root is None else str(cfg.root),
        "data": None, "limit": cfg.limit, "val": val, "n_train": len(train), "n_val": len(valset),
    }
    sensor = tuple(int(s) for s in train_ds.sensor_size)
    return DataBundle(train, valset, [str(c) for c in train_ds.classes], sensor, stc, info)  # type: ignore[arg-type]


def _file_split(path: str | Path, split: str, limit: int | None) -> tuple[CompressedDataset, np.ndarray]:
    ds = CompressedDataset(path, split, preload_limit=0)
    return ds, spread_indices(len(ds), limit)


def _file_frames(ds: CompressedDataset, idx: np.ndarray) -> FrameSet:
    frames = ds.all_frames()
    return FrameSet(torch.from_numpy(np.ascontiguousarray(frames[idx])), torch.from_numpy(ds.targets[idx]))


def _file_train_split(names: list[str], path: str | Path) -> str:
    if "train" in names:
        return "train"
    if len(names) == 1:
        return names[0]
    raise InvalidParameterError(f"{path}: no 'train' split among {names}")


def _from_file(cfg: TrainConfig, progress: bool) -> DataBundle:
    path = str(cfg.data)
    attrs = read_attributes(path)
    names = list(attrs["split_names"])
    train_split = _file_train_split(names, path)
    train_ds, train_idx = _file_split(path, train_split, cfg.limit)
    use_test = cfg.val_split in ("auto", "test") and "test" in names and train_split != "test"
    if cfg.val_split == "test" and not use_test:
        raise InvalidParameterError(f"{path}: no test split (it has {names})")
    if use_test:
        test_ds, test_idx = _file_split(path, "test", cfg.limit)
        train = _file_frames(train_ds, train_idx)
        valset = _file_frames(test_ds, test_idx)
        val: dict[str, Any] = {"kind": "test", "split": "test", "indices": None, "n_split": len(test_idx)}
    else:
        full = _file_frames(train_ds, train_idx)
        keep, hold = _holdout(full.y.numpy(), cfg)
        train, valset = FrameSet(full.x[keep], full.y[keep]), FrameSet(full.x[hold], full.y[hold])
        val = {"kind": "holdout", "split": train_split, "fraction": float(cfg.val_fraction),
               "seed": int(cfg.split_seed), "indices": [int(i) for i in hold], "n_split": len(train_idx)}
    info = {
        "source": "file", "dataset": str(attrs.get("dataset", "")) or None, "root": None,
        "data": str(Path(path).resolve()), "limit": cfg.limit, "train_split": train_split,
        "val": val, "n_train": len(train), "n_val": len(valset),
    }
    sensor = tuple(int(s) for s in attrs["sensor_size"])
    return DataBundle(train, valset, [str(c) for c in attrs["classes"]], sensor, cfg.stc(), info)  # type: ignore[arg-type]


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
    stc: STCParams,
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
        stc: STC settings (the training ones, possibly with another ``n_time_steps``).
        dataset, root: a registered dataset (default: the training run's dataset and root).
        data: a compressed file instead (its ``T`` must equal ``stc.n_time_steps``).
        split: a split name, or ``"val"`` for the validation recordings of the training run
            (its test split, or its seeded hold-out rebuilt from the recorded indices).
        limit: keep ``limit`` samples (ignored for ``"val"``, which is what training used).

    Returns:
        ``(frames, classes, description)``.
    """
    val = data_info.get("val", {})
    use_file = data is not None or (dataset is None and data_info.get("source") == "file")
    if use_file:
        path = str(data if data is not None else data_info["data"])
        attrs = read_attributes(path)
        file_T = int(attrs["stc"]["n_time_steps"])
        if file_T != stc.n_time_steps:
            raise InvalidParameterError(
                f"{path} holds frames with T={file_T}; evaluating at T={stc.n_time_steps} needs the "
                f"recordings: use --dataset (and --root) instead of a compressed file"
            )
        if split == "val":
            if val.get("kind") == "test":
                ds, idx = _file_split(path, "test", data_info.get("limit"))
            else:
                ds, idx = _file_split(path, str(val["split"]), data_info.get("limit"))
                idx = _select_holdout(idx, val, path)
        else:
            ds, idx = _file_split(path, split, limit)
        frames = _file_frames(ds, idx)
        desc = {"source": "file", "data": path, "split": split, "n": len(frames)}
        return frames, [str(c) for c in attrs["classes"]], desc
    name = dataset if dataset is not None else data_info.get("dataset")
    if not name:
        raise InvalidParameterError("no dataset given and the checkpoint records none: use --dataset")
    if root is None and dataset is None:
        root = data_info.get("root")
    if split == "val":
        if data_info.get("source") == "file" or (dataset is not None and dataset != data_info.get("dataset")):
            raise InvalidParameterError(
                f"--split val means the validation recordings of the training run, which used "
                f"{data_info.get('dataset') or data_info.get('data')}; not {name}"
            )
        src_split = "test" if val.get("kind") == "test" else str(val.get("split", "train"))
        ds, idx = open_split(name, root, src_split, data_info.get("limit"), progress)
        if val.get("kind") != "test":
            idx = _select_holdout(idx, val, f"{name} at {root or '(shared data)'}")
    else:
        ds, idx = open_split(name, root, split, limit, progress)
    frames = FrameSet(compress_recordings(ds, idx, stc, progress, f"STC {name} {split}"), _targets(ds, idx))
    desc = {"source": "dataset", "dataset": name, "root": None if root is None else str(root),
            "split": split, "n": len(frames), "stc": asdict(stc)}
    return frames, [str(c) for c in ds.classes], desc


def _select_holdout(idx: np.ndarray, val: dict[str, Any], where: str) -> np.ndarray:
    if int(val.get("n_split", -1)) != len(idx):
        raise InvalidParameterError(
            f"{where}: the training run held out recordings from a split of {val.get('n_split')} "
            f"samples, but {len(idx)} are there now; cannot rebuild its validation set"
        )
    return idx[np.asarray(val["indices"], dtype=np.int64)]
