"""Compress whole event datasets into one HDF5 file of STC frames (``eventsnn compress``).

Recordings are read through the dataset loaders, compressed with
:func:`eventsnn.functional.stc.stc_numpy_batch` in chunks (optionally in ``workers`` processes)
and written to ``<out>.tmp-<pid>``, which is renamed to ``out`` only when complete — an
interrupted run never leaves a file that looks finished. The layout is described in
:mod:`eventsnn.datasets.compressed`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from eventsnn._version import __version__
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.compressed import FORMAT, FORMAT_VERSION
from eventsnn.datasets.registry import DATASETS, get_dataset
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.functional.stc import check_stc_params, stc_numpy_batch, stc_output_shape

__all__ = ["STCParams", "compress_dataset", "compress_datasets"]

CHUNK = 16


@dataclass(frozen=True)
class STCParams:
    """Every STC setting stored with a compressed file (see :func:`eventsnn.functional.stc.stc_numpy`)."""

    n_time_steps: int
    ratio: int = 1
    mode: str = "sum"
    decay: float = 0.5
    spatial_factor: int = 1
    merge_polarity: bool = False
    carry: bool = False

    def frames(self, recordings: Sequence[np.ndarray], sensor_size) -> np.ndarray:
        return stc_numpy_batch(recordings, sensor_size, **asdict(self))


_WORKER_DATASETS: dict[str, EventDataset] = {}


def _init_worker(datasets: dict[str, EventDataset]) -> None:
    global _WORKER_DATASETS
    _WORKER_DATASETS = datasets


def _compress_chunk(args: tuple[str, list[int], STCParams]) -> tuple[np.ndarray, np.ndarray]:
    split, indices, params = args
    ds = _WORKER_DATASETS[split]
    recordings = [ds.read(i) for i in indices]
    frames = params.frames(recordings, ds.sensor_size)
    counts = np.array([len(r) for r in recordings], dtype=np.int64)
    return frames, counts


def _chunks(n: int, size: int) -> Iterator[list[int]]:
    for s in range(0, n, size):
        yield list(range(s, min(n, s + size)))


def compress_datasets(
    datasets: dict[str, EventDataset],
    out: str | Path,
    params: STCParams,
    workers: int = 0,
    compression: str | None = None,
    progress: bool = True,
    source: dict | None = None,
    storage: str = "auto",
) -> Path:
    """Write the splits ``datasets`` (name -> dataset) to one HDF5 file at ``out``.

    Args:
        datasets: split name -> dataset; all must share ``sensor_size`` and ``classes``.
        out: destination file; its folder is created.
        params: STC settings.
        workers: processes used for reading + compressing (0 = in this process).
        compression: ``None`` (fastest reads, the default), ``"lzf"`` or ``"gzip"`` (smaller).
        progress: show a tqdm bar.
        source: extra provenance stored in the attributes (dataset name, root, ...).
        storage: on-disk dtype of the frames. ``"auto"`` stores ``sum``-mode counts in the
            smallest unsigned integer type that holds them (uint8, widened to uint16 and then
            float32 if a count does not fit), ``exp`` mode in float32; readers always get float32.

    Returns:
        The path of the finished file.
    """
    if not datasets:
        raise InvalidParameterError("no split to compress")
    first = next(iter(datasets.values()))
    sensor_size = tuple(int(s) for s in first.sensor_size)
    check_stc_params(sensor_size, params.n_time_steps, params.ratio, params.mode, params.decay, params.spatial_factor)
    if storage not in ("auto", "uint8", "uint16", "float32"):
        raise InvalidParameterError(f"storage must be auto, uint8, uint16 or float32, got {storage!r}")
    if params.mode == "exp" and storage in ("uint8", "uint16"):
        raise InvalidParameterError("exp-mode frames are not integers: use storage float32 or auto")
    if storage == "auto":
        storage = "uint8" if params.mode == "sum" else "float32"
    if compression not in ("lzf", "gzip", None):
        raise InvalidParameterError(f"compression must be lzf, gzip or none, got {compression!r}")
    if workers < 0:
        raise InvalidParameterError(f"workers must be >= 0, got {workers}")
    for name, ds in datasets.items():
        if tuple(ds.sensor_size) != sensor_size or list(ds.classes) != list(first.classes):
            raise InvalidParameterError(f"split {name!r} has a different sensor or class list")
    shape = stc_output_shape(sensor_size, params.n_time_steps, params.spatial_factor, params.merge_polarity)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    total = sum(len(d) for d in datasets.values())
    split_names = list(datasets)
    pool = None
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=FORMAT,
                format_version=FORMAT_VERSION,
                eventsnn_version=__version__,
                sensor_size=np.array(sensor_size),
                frame_shape=np.array(shape),
                classes=json.dumps(list(first.classes)),
                split_names=json.dumps(split_names),
                stc=json.dumps(asdict(params)),
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                **{k: str(v) for k, v in (source or {}).items()},
            )
            kw = {"compression": compression} if compression else {}
            # ~256 KiB chunks: whole-file reads stay fast, one sample costs at most one chunk
            per_chunk = max(1, min(64, total, 2**18 // (4 * int(np.prod(shape)))))
            frames_ds = f.create_dataset("frames", (total, *shape), dtype=storage, chunks=(per_chunk, *shape), **kw)
            labels_ds = f.create_dataset("labels", (total,), dtype="i8")
            split_ds = f.create_dataset("split", (total,), dtype="u1")
            count_ds = f.create_dataset("n_events", (total,), dtype="i8")
            src_ds = f.create_dataset("source", (total,), dtype=h5py.string_dtype())
            _init_worker(datasets)
            tasks = [(name, idx, params) for name, ds in datasets.items() for idx in _chunks(len(ds), CHUNK)]
            if workers > 0:
                # spawn, not fork: forking after torch/OpenMP threads started can deadlock
                pool = ProcessPoolExecutor(
                    workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(datasets,)
                )
                results = pool.map(_compress_chunk, tasks)
            else:
                results = map(_compress_chunk, tasks)
            pos = 0
            with tqdm(total=total, desc=f"compress -> {out.name}", unit="rec", disable=not progress) as bar:
                for (name, idx, _), (frames, counts) in zip(tasks, results, strict=True):
                    ds = datasets[name]
                    n = len(idx)
                    if frames_ds.dtype != np.float32 and frames.max(initial=0) > np.iinfo(frames_ds.dtype).max:
                        frames_ds = _widen(f, frames_ds, pos, frames.max())
                    frames_ds[pos : pos + n] = frames
                    labels_ds[pos : pos + n] = [ds.targets[i] for i in idx]
                    split_ds[pos : pos + n] = split_names.index(name)
                    count_ds[pos : pos + n] = counts
                    src_ds[pos : pos + n] = [ds.describe(i) for i in idx]
                    pos += n
                    bar.update(n)
        os.replace(tmp, out)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        _init_worker({})
        if tmp.exists():
            tmp.unlink()
    return out


def _widen(f: h5py.File, old: h5py.Dataset, written: int, needed: float) -> h5py.Dataset:
    """Replace ``/frames`` by a copy in a wider dtype that holds ``needed``."""
    dtype = "uint16" if needed <= np.iinfo(np.uint16).max else "float32"
    new = f.create_dataset(
        "frames_wide", old.shape, dtype=dtype, chunks=old.chunks, compression=old.compression
    )
    step = old.chunks[0] * 64
    for s in range(0, written, step):
        new[s : min(written, s + step)] = old[s : min(written, s + step)]
    del f["frames"]
    f.move("frames_wide", "frames")
    return f["frames"]


def compress_dataset(
    name: str,
    out: str | Path,
    params: STCParams,
    root: str | Path | None = None,
    splits: Sequence[str] | None = None,
    limit: int | None = None,
    workers: int = 0,
    compression: str | None = None,
    progress: bool = True,
    dataset_kwargs: dict | None = None,
    storage: str = "auto",
) -> Path:
    """Compress the registered dataset ``name`` (all splits found, or ``splits``) to ``out``.

    ``limit`` keeps ``limit`` samples spread evenly over each split (quick looks, tests);
    ``dataset_kwargs`` go to the dataset's constructor (e.g. ``n_samples`` of ``synthetic``).
    """
    spec = DATASETS.get(name)
    if spec is None:
        raise InvalidParameterError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    wanted = list(splits) if splits else [s for s in spec.splits if s != "all"]
    opened: dict[str, EventDataset] = {}
    missing: list[DatasetNotFoundError] = []
    for split in wanted:
        try:
            ds = get_dataset(name, root, split, **(dataset_kwargs or {}))
        except DatasetNotFoundError as exc:
            if splits:  # asked for explicitly
                raise
            missing.append(exc)
            continue
        if limit is not None:
            ds = _Subset(ds, limit)
        opened[split] = ds
    if not opened:
        raise missing[0]
    return compress_datasets(
        opened, out, params, workers, compression, progress, storage=storage,
        source={"dataset": name, "root": str(root) if root is not None else "(shared data)"},
    )


class _Subset(EventDataset):
    """``limit`` samples spread evenly over a dataset (every class of a class-sorted split)."""

    def __init__(self, base: EventDataset, limit: int) -> None:
        super().__init__(base.split, base.transform)
        if limit < 1:
            raise InvalidParameterError(f"limit must be >= 1, got {limit}")
        self.base = base
        self.name, self.sensor_size, self.classes = base.name, base.sensor_size, base.classes
        self.indices = [int(i) for i in spread_indices(len(base), limit)]
        self.targets = [base.targets[i] for i in self.indices]

    def read(self, index: int) -> np.ndarray:
        return self.base.read(self.indices[index])

    def describe(self, index: int) -> str:
        return self.base.describe(self.indices[index])
