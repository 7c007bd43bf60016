"""Which recordings: a split of a dataset (or of a compressed file) with its ``limit``, the
validation hold-out of a training run, and the validation recordings of a finished run rebuilt
from the record its checkpoint keeps.

Everything that trains, evaluates or benchmarks chooses its recordings here, as
``(dataset, indices)``: ``indices`` index ``dataset``, so the recordings are
``dataset.read(i) for i in indices`` (or, for a compressed file, its frames at ``indices``).

The validation record (``DataBundle.info["val"]``, stored in every checkpoint) is either
``{"kind": "test", "split": "test", "indices": None, "n_split": N}`` (the dataset's test split),
``{"kind": "holdout", "split": S, "fraction": f, "seed": s, "indices": [...], "n_split": N}``
``{"kind": "session", "split": S, "session": name, "indices": [...], "n_split": N}`` or
``{"kind": "recording", "split": S, "recording": id, "indices": [...], "n_split": N}``:
positions, among the ``N`` samples the (limited) split ``S`` had, of the held-out samples
(with ``"recordings"``: the ids of the recordings they were cut from, when the samples are
windows). :func:`recorded_holdout` turns it back into samples.

Samples that are windows of long recordings carry ``groups`` (the recording each came from,
e.g. :class:`~eventsnn.datasets.slicing.SlicedRecordings`, or a compressed file of windows).
Windows of one recording are near-duplicates, so such a dataset is only ever split by whole
recordings (:func:`hold_out`, :func:`recording_split`) or by session (:func:`session_split`): no function here splits
its windows. Its training part may be cut differently (overlapping windows,
:attr:`DatasetSpec.training_kwargs <eventsnn.datasets.registry.DatasetSpec>`): the training
windows are those of the training recordings, the validation windows never overlap.
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
from eventsnn.datasets.splits import group_split, spread_indices, stratified_split
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError

__all__ = [
    "TrainingSplits",
    "checkpoint_split",
    "clear_cache",
    "file_training_splits",
    "hold_out",
    "is_val_split",
    "open_file_split",
    "open_split",
    "recorded_holdout",
    "recording_split",
    "sample_groups",
    "session_split",
    "training_splits",
]

_SIM_CACHE: OrderedDict[tuple, EventDataset] = OrderedDict()
_SIM_CACHE_SIZE = 2

#: a dataset whose samples are indexed by ``indices``: recordings or compressed frames
Source = EventDataset | CompressedDataset


#: the forms of ``val_split`` (:func:`training_splits`), for messages
VAL_SPLIT_FORMS = "auto, holdout, test, session:NAME or recording:ID"


def is_val_split(text: object) -> bool:
    """Whether ``text`` is a ``val_split`` :func:`training_splits` takes (:data:`VAL_SPLIT_FORMS`)."""
    if not isinstance(text, str):
        return False
    kind, colon, name = text.partition(":")
    return text in ("auto", "holdout", "test") or (kind in ("session", "recording") and bool(colon and name))


def clear_cache() -> None:
    """Forget the simulated datasets kept by :func:`open_split` (frees their recordings)."""
    _SIM_CACHE.clear()


def open_split(
    name: str,
    root: str | Path | None,
    split: str,
    limit: int | None = None,
    progress: bool = False,
    options: dict[str, Any] | None = None,
    training: bool = False,
) -> tuple[EventDataset, np.ndarray]:
    """Open split ``split`` of dataset ``name`` and pick the ``limit`` samples used.

    ``options``: the dataset's options (:attr:`DatasetSpec.options
    <eventsnn.datasets.registry.DatasetSpec>`; unknown names raise); ``training``: open the
    samples a training run trains on (the spec's ``training_kwargs``, e.g. overlapping windows).

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
    kw = {**spec.factory_kwargs(split, limit, progress), **spec.resolve_options(options)}
    if training:
        kw.update(spec.training_kwargs)
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


def sample_groups(dataset: Source, indices: np.ndarray) -> np.ndarray | None:
    """The group (source recording) of each sample ``indices`` of ``dataset``, or ``None`` when
    its samples carry no ``groups`` (each sample is a recording of its own)."""
    groups = getattr(dataset, "groups", None)
    return None if groups is None else np.asarray(groups, dtype=np.int64)[np.asarray(indices, dtype=np.int64)]


def hold_out(dataset: Source, indices: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the samples ``indices`` of ``dataset`` into ``(keep, hold)`` for validation.

    Seeded and stratified: ``round(fraction * n)`` samples of each class (at least one of a
    class with two or more) are held out (:func:`eventsnn.datasets.stratified_split`). When
    the samples carry ``groups`` (windows of long recordings) whole recordings are held out
    instead, stratified by class the same way (:func:`eventsnn.datasets.splits.group_split`):
    no recording has windows on both sides.

    Returns:
        Sorted positions into ``indices`` (not dataset indices) of the kept and held-out samples.
    """
    idx = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(dataset.targets, dtype=np.int64)[idx]
    groups = sample_groups(dataset, idx)
    if groups is None:
        return stratified_split(labels, float(fraction), int(seed))
    return group_split(labels, groups, float(fraction), int(seed))


def _leave_out(dataset: Source, indices: np.ndarray, attribute: str, value: str) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, hold)`` positions into ``indices``: ``hold`` the samples whose ``attribute``
    (``"sessions"`` or ``"recording_ids"``, one entry per sample of ``dataset``) is ``value``."""
    what = {"sessions": "session", "recording_ids": "recording"}[attribute]
    per_sample = getattr(dataset, attribute, None)
    name = getattr(dataset, "name", None) or str(getattr(dataset, "path", "the dataset"))
    if per_sample is None:
        raise InvalidParameterError(f"{name}: its samples carry no {what}; a {what} split needs {what} names")
    of = np.asarray(per_sample, dtype=object)[np.asarray(indices, dtype=np.int64)]
    hold = np.flatnonzero(of == value)
    keep = np.flatnonzero(of != value)
    if not len(hold) or not len(keep):
        found = ", ".join(sorted({str(s) for s in of}))
        why = "no sample is from it" if not len(hold) else "every sample is from it, none is left to train on"
        raise InvalidParameterError(f"{name}: cannot leave {what} {value!r} out: {why} ({what}s: {found})")
    return keep, hold


def session_split(dataset: Source, indices: np.ndarray, session: str) -> tuple[np.ndarray, np.ndarray]:
    """Leave one session out: ``(keep, hold)`` positions into ``indices``, ``hold`` the samples
    recorded in session ``session`` (``dataset.sessions``), ``keep`` all others.

    Raises:
        InvalidParameterError: the samples carry no sessions, none is from ``session`` (the
            message lists the sessions there are), or all are (nothing left to train on).
    """
    return _leave_out(dataset, indices, "sessions", session)


def recording_split(dataset: Source, indices: np.ndarray, recording: str) -> tuple[np.ndarray, np.ndarray]:
    """Leave one recording out: ``(keep, hold)`` positions into ``indices``, ``hold`` the
    samples (windows) cut from recording ``recording`` (its id in ``dataset.recording_ids``,
    e.g. ``"DataSet2/mug/Caneca"`` for dvs128objects: ``<session>/<class>/<file stem>``),
    ``keep`` all others.

    Raises:
        InvalidParameterError: the samples carry no recording ids, none is from ``recording``
            (the message lists the recording ids there are), or all are.
    """
    return _leave_out(dataset, indices, "recording_ids", recording)


def _recording_ids(dataset: Source, indices: np.ndarray) -> list[str] | None:
    ids = getattr(dataset, "recording_ids", None)
    return None if ids is None else sorted({str(ids[int(i)]) for i in indices})


def recorded_holdout(
    indices: np.ndarray, record: dict[str, Any], where: str, dataset: Source | None = None
) -> np.ndarray:
    """The held-out samples of a training run: ``indices`` (the split the run held out from,
    opened with the run's limit) at the positions of the validation ``record``. With
    ``dataset`` (the one ``indices`` index), the recordings of those samples are checked
    against the ones the record names, when it names any.

    Raises:
        InvalidParameterError: naming ``where`` (the dataset or file) when the split does not
            have the size it had for the run, or its samples come from other recordings, so
            its validation set cannot be rebuilt.
    """
    if int(record.get("n_split", -1)) != len(indices):
        raise InvalidParameterError(
            f"{where}: the training run held out recordings from a split of {record.get('n_split')} "
            f"samples, but {len(indices)} are there now; cannot rebuild its validation set"
        )
    held = np.asarray(indices)[np.asarray(record["indices"], dtype=np.int64)]
    named = record.get("recordings")
    found = None if dataset is None or named is None else _recording_ids(dataset, held)
    if found is not None and found != sorted(named):
        raise InvalidParameterError(
            f"{where}: the training run validated on windows of {sorted(named)}, but these samples come "
            f"from {found}; cannot rebuild its validation set"
        )
    return held


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


def _windows_of_other_recordings(train: tuple[Source, np.ndarray], held: np.ndarray) -> np.ndarray:
    """The samples of ``train`` whose group (recording) is not among ``held``."""
    groups = sample_groups(*train)
    if groups is None:
        raise InvalidParameterError("training samples cut differently from the validation ones need groups")
    return train[1][~np.isin(groups, held)]


def _split_off(
    ds: Source, idx: np.ndarray, split: str, val_split: str, fraction: float, seed: int,
    train: tuple[Source, np.ndarray] | None = None,
) -> TrainingSplits:
    """The train/validation parts of one split: a seeded hold-out (``val_split`` ``"auto"`` or
    ``"holdout"``), one session left out (``"session:NAME"``) or one recording
    (``"recording:ID"``). ``train``: the training
    samples when they are cut differently (overlapping windows): those of the kept recordings."""
    record: dict[str, Any]
    kind, _, name = val_split.partition(":")
    if kind in ("session", "recording"):
        keep, hold = (session_split if kind == "session" else recording_split)(ds, idx, name)
        record = {"kind": kind, "split": split, kind: name}
    else:
        keep, hold = hold_out(ds, idx, fraction, seed)
        record = {"kind": "holdout", "split": split, "fraction": float(fraction), "seed": int(seed)}
    record.update(indices=[int(i) for i in hold], n_split=len(idx))
    recordings = _recording_ids(ds, idx[hold])
    if recordings is not None:
        record["recordings"] = recordings
    if train is None:
        train = (ds, idx[keep])
    else:
        held = sample_groups(ds, idx[hold])
        train = (train[0], _windows_of_other_recordings(train, np.unique(held)))
    return TrainingSplits(train, (ds, idx[hold]), record, split)


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
    options: dict[str, Any] | None = None,
) -> TrainingSplits:
    """Train and validation recordings of dataset ``name`` for a training run.

    ``val_split``: ``"auto"`` validates on the test split when the dataset has one on disk,
    else on a seeded, stratified hold-out of ``fraction`` of the train split (:func:`hold_out`:
    whole recordings when the samples are windows); ``"holdout"`` always holds out; ``"test"``
    requires the test split; ``"session:NAME"`` validates on the samples of session ``NAME``
    and trains on the others (:func:`session_split`); ``"recording:ID"`` validates on the
    windows of the one recording ``ID`` (:func:`recording_split`). ``limit`` applies to each split
    (:func:`open_split`); ``options``: the dataset's options. A dataset without a ``train``
    split trains on its only split (e.g. ``"all"``). When the spec opens training samples
    differently (``training_kwargs``), the training part is cut that way, from the training
    recordings only.
    """
    spec = dataset_spec(name)
    split = "train" if "train" in spec.splits else spec.splits[0]
    train = open_split(name, root, split, limit, progress, options, training=True)
    if val_split in ("auto", "test") and "test" in spec.splits:
        try:
            test = open_split(name, root, "test", limit, progress, options)
            return TrainingSplits(train, test, _test_record(len(test[1])))
        except DatasetNotFoundError:
            if val_split == "test":
                raise
    elif val_split == "test":
        raise InvalidParameterError(f"{name} has no test split")
    if not spec.training_kwargs:
        return _split_off(*train, split, val_split, fraction, seed)
    evaluation = open_split(name, root, split, limit, progress, options)
    return _split_off(*evaluation, split, val_split, fraction, seed, train=train)


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
    return _split_off(*train, train_split, val_split, fraction, seed)


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
        options = data_info.get("options") if name == data_info.get("dataset") else None
        opener = functools.partial(open_split, name, root, progress=progress, options=options)
        where = f"{name} at {root or '(shared data)'}"
        desc = {"source": "dataset", "dataset": name, "root": None if root is None else str(root), "split": split}
    if split != "val":
        ds, idx = opener(split, limit)
    elif val.get("kind") == "test":
        ds, idx = opener("test", data_info.get("limit"))
    else:
        ds, idx = opener(str(val.get("split", "train")), data_info.get("limit"))
        idx = recorded_holdout(idx, val, where, ds)
    return ds, idx, desc
