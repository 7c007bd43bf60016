"""Compressed datasets: one HDF5 file of STC frames for a whole dataset (``eventsnn compress``).

Writing (:func:`compress_dataset`, :func:`compress_datasets`): the destination is checked
first (an existing file is replaced only with ``overwrite``); recordings are read through the
dataset loaders, compressed with :meth:`eventsnn.transforms.STC.frames` in chunks (optionally in
``workers`` processes, at most ``2 * workers`` chunks in flight) and written to
``<stem>.tmp-<pid>.h5`` (:func:`eventsnn.outputs.atomic_path`), which is renamed to ``out`` only
when complete and removed on any error, Ctrl-C or SIGTERM; one that a killed run left behind is
removed by the next run to the same ``out``. An interrupted run never leaves a file that looks
finished.

File layout (one file for a whole dataset, all splits)::

    /frames    [N, T, P, H, W]  uint8 | uint16 | float32 (sum-mode counts in the smallest type that
               holds them), chunks of ~256 KiB (whole samples), optionally lzf/gzip compressed
    /labels    int64   [N]
    /split     uint8   [N]               index into attrs["split_names"]
    /n_events  int64   [N]               events in each recording (sum-mode frames sum to it)
    /source    str     [N]               file (or sample id) each sample came from
    /recording str     [N]               (windows of long recordings only) the recording and
    /session   str     [N]               the session each window came from
    attrs: format="eventsnn-compressed", format_version, eventsnn_version, dataset, root,
           sensor_size, frame_shape, classes (JSON), split_names (JSON), stc (JSON), created

``stc`` is :meth:`eventsnn.transforms.STC.to_dict` (format version 2); files of version 1 store
it without ``sensor_size`` and with ``n_time_steps`` for ``T``, and read the same.

Reading: :class:`CompressedDataset` opens the file lazily in each process (safe with DataLoader
workers) and, for files up to ``preload_limit`` bytes of frames, reads the split into memory once
(in the stored dtype); samples are always returned as float32. A file that cannot be read (not
HDF5, truncated, a damaged chunk) raises :class:`~eventsnn.errors.CompressedFileError` naming it,
whichever reader (training, evaluation, benchmarks) hits it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import torch.utils.data
from tqdm.auto import tqdm

from eventsnn._deprecation import warn_deprecated
from eventsnn._version import __version__
from eventsnn._workers import ordered_map, worker_pool
from eventsnn.datasets._compressed_write import (
    CHUNK,
    EvenSubset,
    compress_chunk,
    init_worker,
    make_task,
    read_chunks,
    widen_frames,
    worker_datasets,
)
from eventsnn.datasets._recording_columns import read_recording_columns, write_recording_columns
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.registry import dataset_spec, get_dataset
from eventsnn.errors import (
    CompressedFileError,
    DatasetNotFoundError,
    EventsnnError,
    InvalidParameterError,
)
from eventsnn.outputs import atomic_path, check_output_file
from eventsnn.transforms import STC

__all__ = [
    "CHUNK",
    "FORMAT",
    "FORMAT_VERSION",
    "CompressedDataset",
    "compress_dataset",
    "compress_datasets",
    "read_attributes",
]

#: CHUNK: recordings the writer compresses per ``stc_numpy_batch`` call (and per worker task)
FORMAT = "eventsnn-compressed"
FORMAT_VERSION = 2


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise FileNotFoundError(f"compressed dataset not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CompressedFileError(
            f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}"
        ) from exc
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise CompressedFileError(
            f"{path}: not an eventsnn compressed dataset (attribute format missing)"
        )
    if int(f.attrs.get("format_version", 1)) > FORMAT_VERSION:
        version = f.attrs.get("format_version")
        f.close()
        raise CompressedFileError(
            f"{path}: format version {version} is newer than this eventsnn reads ({FORMAT_VERSION})"
        )
    for key in ("frames", "labels", "split"):
        if key not in f:
            f.close()
            raise CompressedFileError(f"{path}: dataset /{key} missing")
    return f


@contextlib.contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Turn HDF5 read errors (a damaged chunk, a truncated file) into one
    :class:`CompressedFileError` naming the file."""
    try:
        yield
    except OSError as exc:
        detail = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CompressedFileError(
            f"{path}: cannot read the {what} (damaged or truncated file?): {detail}"
        ) from exc


def read_attributes(path: str | Path) -> dict[str, Any]:
    """All attributes of a compressed file, JSON fields decoded; ``stc`` as
    :meth:`STC.to_dict <eventsnn.transforms.STC.to_dict>` gives it, whatever the format version."""
    with _open(Path(path)) as f:
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}
        attrs["n_samples"] = int(f["labels"].shape[0])
    for key in ("classes", "split_names", "stc"):
        if key in attrs:
            try:
                attrs[key] = json.loads(attrs[key])
            except (TypeError, ValueError) as exc:
                raise CompressedFileError(
                    f"{path}: attribute {key} is not valid JSON ({exc})"
                ) from exc
    if "stc" in attrs:
        try:
            attrs["stc"] = STC.from_dict(attrs["stc"], attrs.get("sensor_size")).to_dict()
        except EventsnnError as exc:
            raise CompressedFileError(f"{path}: unreadable STC settings: {exc}") from exc
    return attrs


class CompressedDataset(torch.utils.data.Dataset):
    """Frames ``[T, P, H, W]`` (float32 tensor) and label of each sample of one split.

    Args:
        path: file written by ``eventsnn compress`` / :func:`compress_dataset`.
        split: a split name stored in the file, or ``None`` for all samples.
        transform: applied to each frame tensor.
        preload_limit: read the split's frames into memory (once per process) when they take at
            most this many bytes; ``0`` never preloads.
    """

    def __init__(
        self,
        path: str | Path,
        split: str | None = "train",
        transform=None,
        preload_limit: int = 2**30,
    ) -> None:
        self.path = Path(path)
        self.attrs = read_attributes(self.path)
        names = self.attrs["split_names"]
        with _open(self.path) as f, _reading(self.path, "labels and splits"):
            codes = f["split"][:]
            labels = f["labels"][:]
            n_events = f["n_events"][:] if "n_events" in f else np.full(len(labels), -1)
            self.frame_shape = tuple(int(s) for s in f["frames"].shape[1:])
            self.storage_dtype = f["frames"].dtype
        if split is None:
            self.indices = np.arange(len(labels))
        else:
            if split not in names:
                raise InvalidParameterError(f"{self.path}: no split {split!r}; it has {names}")
            self.indices = np.flatnonzero(codes == names.index(split))
        self.split = split
        # windows of long recordings: where each came from (None for other files)
        self.recording_ids, self.sessions, self.groups = read_recording_columns(
            self.path, self.indices
        )
        self.targets = labels[self.indices].astype(np.int64)
        self.n_events = n_events[self.indices]
        self.classes = self.attrs["classes"]
        self.sensor_size = tuple(self.attrs["sensor_size"])
        self.stc = STC.from_dict(self.attrs["stc"])
        self.transform = transform
        nbytes = len(self.indices) * int(np.prod(self.frame_shape)) * self.storage_dtype.itemsize
        self.preload = 0 < nbytes <= preload_limit
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._frames: np.ndarray | None = None

    @property
    def T(self) -> int:
        """Time steps of the stored frames."""
        return self.frame_shape[0]

    @property
    def n_time_steps(self) -> int:
        """Deprecated name of :attr:`T` (one release)."""
        warn_deprecated("CompressedDataset.n_time_steps is deprecated, use CompressedDataset.T")
        return self.T

    def _handle(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = _open(self.path)
            self._pid = os.getpid()
            self._frames = None
        return self._file

    def all_frames(self, dtype: np.dtype | None = np.float32) -> np.ndarray:
        """Every frame of the split as one array ``[N, T, P, H, W]``.

        Read once and cached in the stored dtype; returned as ``dtype`` (``None``: as stored).
        """
        raw = self._raw_frames()
        return raw if dtype is None else raw.astype(dtype, copy=False)

    def _raw_frames(self) -> np.ndarray:
        f = self._handle()
        if self._frames is None:
            ds = f["frames"]
            with _reading(self.path, "frames"):
                if len(self.indices) and np.all(np.diff(self.indices) == 1):
                    self._frames = ds[int(self.indices[0]) : int(self.indices[-1]) + 1]
                else:
                    self._frames = (
                        ds[self.indices]
                        if len(self.indices)
                        else np.zeros((0, *self.frame_shape), ds.dtype)
                    )
        return self._frames

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self.preload:
            frames = self._raw_frames()[i]
        else:
            ds = self._handle()["frames"]
            with _reading(self.path, f"frames of sample {i}"):
                frames = ds[int(self.indices[i])]
        x = torch.from_numpy(frames.astype(np.float32))
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.targets[i])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        state["_frames"] = None
        return state

    def __repr__(self) -> str:
        return f"CompressedDataset({str(self.path)!r}, split={self.split!r}, samples={len(self)}, frames={self.frame_shape})"


def _stc_for_sensor(datasets: dict[str, EventDataset], stc: STC) -> tuple[STC, tuple[int, ...]]:
    """The sensor size of the first split of ``datasets`` and the STC settings for it (an
    ``STCParams`` is taken on that sensor); raise :class:`InvalidParameterError` for no split or
    settings for another sensor."""
    if not datasets:
        raise InvalidParameterError("no split to compress")
    first = next(iter(datasets.values()))
    sensor_size = tuple(int(s) for s in first.sensor_size)
    if not isinstance(stc, STC):  # an eventsnn.compress.STCParams (deprecated, no sensor size)
        stc = stc.to_stc(sensor_size)
    if stc.sensor_size != sensor_size:
        raise InvalidParameterError(
            f"the STC settings are for a {'x'.join(map(str, stc.sensor_size))} sensor, the recordings "
            f"come from a {'x'.join(map(str, sensor_size))} one"
        )
    return stc, sensor_size


def _check_same_sensor_and_classes(datasets: dict[str, EventDataset],
                                   sensor_size: tuple[int, ...]) -> None:
    """Raise :class:`InvalidParameterError` naming the first split whose sensor or class list
    differs from the first split's."""
    first = next(iter(datasets.values()))
    for name, ds in datasets.items():
        if tuple(ds.sensor_size) != sensor_size or list(ds.classes) != list(first.classes):
            raise InvalidParameterError(f"split {name!r} has a different sensor or class list")


def _check_write_options(stc: STC, storage: str, compression: str | None, workers: int,
                         threads: int | None) -> str:
    """Check the options of :func:`compress_datasets` and return the on-disk dtype that
    ``storage`` (``"auto"`` resolved for ``stc.mode``) stands for."""
    if storage not in ("auto", "uint8", "uint16", "float32"):
        raise InvalidParameterError(
            f"storage must be auto, uint8, uint16 or float32, got {storage!r}"
        )
    if stc.mode == "exp" and storage in ("uint8", "uint16"):
        raise InvalidParameterError("exp-mode frames are not integers: use storage float32 or auto")
    if compression not in ("lzf", "gzip", None):
        raise InvalidParameterError(f"compression must be lzf, gzip or none, got {compression!r}")
    if workers < 0:
        raise InvalidParameterError(f"workers must be >= 0, got {workers}")
    if threads is not None and threads < 1:
        raise InvalidParameterError(f"threads must be >= 1, got {threads}")
    if storage == "auto":
        return "uint8" if stc.mode == "sum" else "float32"
    return storage


def compress_datasets(
    datasets: dict[str, EventDataset],
    out: str | Path,
    stc: STC,
    workers: int = 0,
    compression: str | None = None,
    progress: bool = True,
    source: dict | None = None,
    storage: str = "auto",
    overwrite: bool = True,
    threads: int | None = None,
) -> Path:
    """Write the splits ``datasets`` (name -> dataset) to one HDF5 file at ``out``.

    Args:
        datasets: split name -> dataset; all must share ``sensor_size`` and ``classes``.
        out: destination file; its folder is created. Checked before any work
            (:func:`eventsnn.outputs.check_output_file`): a folder, a path under a regular file
            or an unwritable folder raise :class:`~eventsnn.errors.OutputPathError`; temporaries
            that killed runs left next to it are removed.
        stc: STC settings, for the datasets' sensor (an ``eventsnn.compress.STCParams``,
            deprecated, is taken on that sensor).
        workers: processes used for reading + compressing (0 = in this process). They die with
            this process, and are stopped at once on an error, Ctrl-C or SIGTERM.
        compression: ``None`` (fastest reads, the default), ``"lzf"`` or ``"gzip"`` (smaller).
        progress: show a tqdm bar.
        source: extra provenance stored in the attributes (dataset name, root, ...).
        storage: on-disk dtype of the frames. ``"auto"`` stores ``sum``-mode counts in the
            smallest unsigned integer type that holds them (uint8, widened to uint16 and then
            float32 if a count does not fit), ``exp`` mode in float32; readers always get float32.
        overwrite: replace an existing ``out`` (``False``: raise
            :class:`~eventsnn.errors.OutputExistsError` before any work).
        threads: torch CPU threads in this process and in each worker (``None``: unchanged).

    Returns:
        The path of the finished file.
    """
    stc, sensor_size = _stc_for_sensor(datasets, stc)
    storage = _check_write_options(stc, storage, compression, workers, threads)
    _check_same_sensor_and_classes(datasets, sensor_size)
    first = next(iter(datasets.values()))
    out = check_output_file(out, overwrite, what="compressed dataset", create=False)
    if threads is not None:
        torch.set_num_threads(threads)
    shape = stc.output_shape
    total = sum(len(d) for d in datasets.values())
    split_names = list(datasets)
    chunks = [(name, idx) for name, ds in datasets.items() for idx in read_chunks(ds)]
    tasks = (make_task(datasets, name, idx, stc) for name, idx in chunks)  # made as submitted
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(out))
        f = stack.enter_context(h5py.File(tmp, "w"))
        f.attrs.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            eventsnn_version=__version__,
            sensor_size=np.array(sensor_size),
            frame_shape=np.array(shape),
            classes=json.dumps(list(first.classes)),
            split_names=json.dumps(split_names),
            stc=json.dumps(stc.to_dict()),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: str(v) for k, v in (source or {}).items()},
        )
        kw = {"compression": compression} if compression else {}
        # ~256 KiB chunks: whole-file reads stay fast, one sample costs at most one chunk
        per_chunk = max(1, min(64, total, 2**18 // (4 * int(np.prod(shape)))))
        frames_ds = f.create_dataset(
            "frames", (total, *shape), dtype=storage, chunks=(per_chunk, *shape), **kw
        )
        labels_ds = f.create_dataset("labels", (total,), dtype="i8")
        split_ds = f.create_dataset("split", (total,), dtype="u1")
        count_ds = f.create_dataset("n_events", (total,), dtype="i8")
        src_ds = f.create_dataset("source", (total,), dtype=h5py.string_dtype())
        if workers > 0:
            pool = stack.enter_context(worker_pool(workers, init_worker, (worker_datasets(datasets),), threads))
            results = ordered_map(pool, compress_chunk, tasks, ahead=2 * workers)
        else:
            init_worker(datasets)
            stack.callback(init_worker, {})
            results = map(compress_chunk, tasks)
        bar = stack.enter_context(
            tqdm(total=total, desc=f"compress -> {out.name}", unit="rec", disable=not progress)
        )
        pos = 0
        for (name, idx), (frames, counts) in zip(chunks, results, strict=True):
            ds = datasets[name]
            n = len(idx)
            if (
                frames_ds.dtype != np.float32
                and frames.max(initial=0) > np.iinfo(frames_ds.dtype).max
            ):
                frames_ds = widen_frames(f, frames_ds, pos, frames.max())
            frames_ds[pos : pos + n] = frames
            labels_ds[pos : pos + n] = [ds.targets[i] for i in idx]
            split_ds[pos : pos + n] = split_names.index(name)
            count_ds[pos : pos + n] = counts
            src_ds[pos : pos + n] = [ds.describe(i) for i in idx]
            pos += n
            bar.update(n)
        write_recording_columns(f, datasets)
    return out


def compress_dataset(
    name: str,
    out: str | Path,
    stc: STC,
    root: str | Path | None = None,
    splits: Sequence[str] | None = None,
    limit: int | None = None,
    workers: int = 0,
    compression: str | None = None,
    progress: bool = True,
    dataset_kwargs: dict | None = None,
    storage: str = "auto",
    overwrite: bool = True,
    threads: int | None = None,
) -> Path:
    """Compress the registered dataset ``name`` (all splits found, or ``splits``) to ``out``.

    ``limit`` keeps ``limit`` samples spread evenly over each split (quick looks, tests); a
    simulated dataset is opened for those samples only (:meth:`DatasetSpec.factory_kwargs
    <eventsnn.datasets.registry.DatasetSpec.factory_kwargs>`, as training opens it), and its
    recordings are simulated batch by batch while they are compressed, in the worker processes.
    ``dataset_kwargs`` go to the dataset's constructor (e.g. ``n_samples`` of ``synthetic``).
    ``stc``: the settings, for the dataset's sensor (``DATASETS[name].sensor_size``).
    ``out`` is checked before any dataset is opened (see :func:`compress_datasets` for it,
    ``overwrite``, ``workers`` and ``threads``).
    """
    spec = dataset_spec(name)
    check_output_file(out, overwrite, what="compressed dataset", create=False)
    if limit is not None and limit < 1:
        raise InvalidParameterError(f"limit must be >= 1, got {limit}")
    wanted = (
        list(splits) if splits else ([s for s in spec.splits if s != "all"] or list(spec.splits))
    )
    opened: dict[str, EventDataset] = {}
    missing: list[DatasetNotFoundError] = []
    for split in wanted:
        kwargs = {**spec.factory_kwargs(split, limit), **(dataset_kwargs or {})}
        try:
            ds = get_dataset(name, root, split, **kwargs)
        except DatasetNotFoundError as exc:
            if splits:  # asked for explicitly
                raise
            missing.append(exc)
            continue
        if limit is not None:
            ds = EvenSubset(ds, limit)
        opened[split] = ds
    if not opened:
        raise missing[0]
    return compress_datasets(
        opened,
        out,
        stc,
        workers,
        compression,
        progress,
        storage=storage,
        overwrite=overwrite,
        threads=threads,
        source={"dataset": name, "root": str(root) if root is not None else "(shared data)"},
    )
