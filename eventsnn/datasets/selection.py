"""Which recordings: a split of a dataset (or of a compressed file) with its ``limit``, the
validation hold-out of a training run, and the validation recordings of a finished run rebuilt
from the record its checkpoint keeps.

Everything that trains, evaluates or benchmarks chooses its recordings here, as
``(dataset, indices)``: ``indices`` index ``dataset``, so the recordings are
``dataset.read(i) for i in indices`` (or, for a compressed file, its frames at ``indices``).

The validation record (``DataBundle.info["val"]``, stored in every checkpoint) is either
``{"kind": "test", "split": "test", "indices": None, "n_split": N}`` (the dataset's test split)
or ``{"kind": "holdout", "split": S, "fraction": f, "seed": s, "indices": [...], "n_split": N}``:
positions, among the ``N`` samples the (limited) split ``S`` had, of the held-out samples.
:func:`recorded_holdout` turns it back into recordings.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.compressed import CompressedDataset, read_attributes
from eventsnn.datasets.registry import dataset_spec, get_dataset
from eventsnn.datasets.splits import spread_indices, stratified_split
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError

__all__ = [
    "TrainingSplits",
    "checkpoint_split",
    "clear_cache",
    "file_training_splits",
    "hold_out",
    "open_file_split",
    "open_split",
    "recorded_holdout",
    "training_splits",
]

_SIM_CACHE: OrderedDict[tuple, EventDataset] = OrderedDict()
_SIM_CACHE_SIZE = 2

#: a dataset whose samples are indexed by ``indices``: recordings or compressed frames
Source = EventDataset | CompressedDataset


def clear_cache() -> None:
    """Forget the simulated datasets kept by :func:`open_split` (frees their recordings)."""
    _SIM_CACHE.clear()


def open_split(
    name: str,
    root: str | Path | None,
    split: str,
    limit: int | None = None,
    progress: bool = False,
) -> tuple[EventDataset, np.ndarray]:
    """Open split ``split`` of dataset ``name`` and pick the ``limit`` samples used.

    The limit keeps ``limit`` samples spread evenly over the split (every class of a
    class-sorted split); simulated datasets generate only what is needed
    (:meth:`DatasetSpec.factory_kwargs`), on first read, and are cached in memory with the
    recordings they simulated (the last two opened, see :func:`clear_cache`), since their
    recordings are a pure function of ``(seed, split, index)``: repeated runs in one process
    simulate once.

    Returns:
        ``(dataset, indices)``: the indices into ``dataset`` that make up the (limited) split.

    Raises:
        DatasetNotFoundError: the split holds no recordings.
    """
    spec = dataset_spec(name)
    kw = spec.factory_kwargs(split, limit, progress)
    if spec.simulated:
        key = (name, str(root), split, tuple(sorted((k, v) for k, v in kw.items() if k != "progress")))
        ds = _SIM_CACHE.get(key)
        if ds is None:
            ds = get_dataset(name, root, split, **kw, keep=True)  # each batch simulated once
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


def open_file_split(path: str | Path, split: str, limit: int | None = None) -> tuple[CompressedDataset, np.ndarray]:
    """Split ``split`` of a compressed file and the ``limit`` samples used (spread evenly)."""
    ds = CompressedDataset(path, split, preload_limit=0)
    return ds, spread_indices(len(ds), limit)


def hold_out(dataset: Source, indices: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the samples ``indices`` of ``dataset`` into ``(keep, hold)`` for validation.

    Seeded and stratified: ``round(fraction * n)`` samples of each class (at least one of a
    class with two or more) are held out (:func:`eventsnn.datasets.stratified_split`).

    Returns:
        Sorted positions into ``indices`` (not dataset indices) of the kept and held-out samples.
    """
    labels = np.asarray(dataset.targets, dtype=np.int64)[np.asarray(indices, dtype=np.int64)]
    return stratified_split(labels, float(fraction), int(seed))


def recorded_holdout(indices: np.ndarray, record: dict[str, Any], where: str) -> np.ndarray:
    """The held-out samples of a training run: ``indices`` (the split the run held out from,
    opened with the run's limit) at the positions of the validation ``record``.

    Raises:
        InvalidParameterError: naming ``where`` (the dataset or file) when the split does not
            have the size it had for the run, so its validation set cannot be rebuilt.
    """
    if int(record.get("n_split", -1)) != len(indices):
        raise InvalidParameterError(
            f"{where}: the training run held out recordings from a split of {record.get('n_split')} "
            f"samples, but {len(indices)} are there now; cannot rebuild its validation set"
        )
    return np.asarray(indices)[np.asarray(record["indices"], dtype=np.int64)]


@dataclass
class TrainingSplits:
    """What a training run trains and validates on, and the record of it.

    Attributes:
        train, val: ``(dataset, indices)`` each; for a hold-out both datasets are the same object.
        record: the validation record (see the module docstring), JSON-able.
        train_split: the split trained on (``"train"``, or a compressed file's only split).
    """

    train: tuple[Source, np.ndarray]
    val: tuple[Source, np.ndarray]
    record: dict[str, Any]
    train_split: str = "train"


def _split_off(ds: Source, idx: np.ndarray, split: str, fraction: float, seed: int) -> TrainingSplits:
    """The train/validation parts of one split, with a seeded hold-out."""
    keep, hold = hold_out(ds, idx, fraction, seed)
    record = {"kind": "holdout", "split": split, "fraction": float(fraction), "seed": int(seed),
              "indices": [int(i) for i in hold], "n_split": len(idx)}
    return TrainingSplits((ds, idx[keep]), (ds, idx[hold]), record, split)


def _test_record(n_split: int) -> dict[str, Any]:
    return {"kind": "test", "split": "test", "indices": None, "n_split": n_split}


def training_splits(
    name: str,
    root: str | Path | None,
    limit: int | None,
    val_split: str = "auto",
    fraction: float = 0.1,
    seed: int = 0,
    progress: bool = False,
) -> TrainingSplits:
    """Train and validation recordings of dataset ``name`` for a training run.

    ``val_split``: ``"auto"`` validates on the test split when the dataset has one on disk,
    else on a seeded, stratified hold-out of ``fraction`` of the train split (:func:`hold_out`);
    ``"holdout"`` always holds out; ``"test"`` requires the test split. ``limit`` applies to
    each split (:func:`open_split`).
    """
    spec = dataset_spec(name)
    train = open_split(name, root, "train", limit, progress)
    if val_split in ("auto", "test") and "test" in spec.splits:
        try:
            test = open_split(name, root, "test", limit, progress)
            return TrainingSplits(train, test, _test_record(len(test[1])))
        except DatasetNotFoundError:
            if val_split == "test":
                raise
    elif val_split == "test":
        raise InvalidParameterError(f"{name} has no test split")
    return _split_off(*train, "train", fraction, seed)


def file_training_splits(
    path: str | Path, limit: int | None, val_split: str = "auto", fraction: float = 0.1, seed: int = 0
) -> TrainingSplits:
    """Train and validation samples of a compressed file for a training run.

    It trains on its ``train`` split (or its only split) and validates as
    :func:`training_splits` does.
    """
    names = list(read_attributes(path)["split_names"])
    if "train" in names:
        train_split = "train"
    elif len(names) == 1:
        train_split = names[0]
    else:
        raise InvalidParameterError(f"{path}: no 'train' split among {names}")
    train = open_file_split(path, train_split, limit)
    use_test = val_split in ("auto", "test") and "test" in names and train_split != "test"
    if val_split == "test" and not use_test:
        raise InvalidParameterError(f"{path}: no test split (it has {names})")
    if use_test:
        test = open_file_split(path, "test", limit)
        return TrainingSplits(train, test, _test_record(len(test[1])), train_split)
    return _split_off(*train, train_split, fraction, seed)


def checkpoint_split(
    data_info: dict[str, Any],
    dataset: str | None = None,
    root: str | Path | None = None,
    data: str | Path | None = None,
    split: str = "test",
    limit: int | None = None,
    progress: bool = False,
) -> tuple[Source, np.ndarray, dict[str, Any]]:
    """The samples of split ``split`` for a trained model, from its checkpoint's data record.

    Args:
        data_info: ``DataBundle.info`` of the training run (``checkpoint["config"]["data"]``).
        dataset, root: a registered dataset (default: the training run's dataset and root).
        data: a compressed file instead (default: the run's file when it trained from one and
            no ``dataset`` is given).
        split: a split name, or ``"val"`` for the validation samples of the training run (its
            test split, or its seeded hold-out rebuilt from the recorded indices).
        limit: keep ``limit`` samples of the split (:func:`open_split`; ignored for ``"val"``,
            which is what training used).

    Returns:
        ``(dataset, indices, description)``: a :class:`CompressedDataset` when the samples come
        from a file; ``description`` says where from (``source``, ``dataset``/``root`` or
        ``data``, ``split``).
    """
    val = data_info.get("val", {})
    opener: Callable[[str, int | None], tuple[Source, np.ndarray]]
    if data is not None or (dataset is None and data_info.get("source") == "file"):
        path = str(data if data is not None else data_info["data"])
        opener = functools.partial(open_file_split, path)
        where, desc = path, {"source": "file", "data": path, "split": split}
    else:
        name = dataset if dataset is not None else data_info.get("dataset")
        if not name:
            raise InvalidParameterError("no dataset given and the checkpoint records none: use --dataset")
        if root is None and dataset is None:
            root = data_info.get("root")
        if split == "val" and (data_info.get("source") == "file" or name != data_info.get("dataset")):
            raise InvalidParameterError(
                f"--split val means the validation recordings of the training run, which used "
                f"{data_info.get('dataset') or data_info.get('data')}; not {name}"
            )
        opener = functools.partial(open_split, name, root, progress=progress)
        where = f"{name} at {root or '(shared data)'}"
        desc = {"source": "dataset", "dataset": name, "root": None if root is None else str(root), "split": split}
    if split != "val":
        ds, idx = opener(split, limit)
    elif val.get("kind") == "test":
        ds, idx = opener("test", data_info.get("limit"))
    else:
        ds, idx = opener(str(val.get("split", "train")), data_info.get("limit"))
        idx = recorded_holdout(idx, val, where)
    return ds, idx, desc
