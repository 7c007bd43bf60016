"""The plumbing of :func:`eventsnn.datasets.compressed.compress_datasets`: worker processes,
chunks of recordings, widening the stored dtype, and an evenly spread subset of a split."""

from __future__ import annotations

from collections.abc import Iterator

import h5py
import numpy as np

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import InvalidParameterError
from eventsnn.transforms import STC

_WORKER_DATASETS: dict[str, EventDataset] = {}


def init_worker(datasets: dict[str, EventDataset]) -> None:
    """Make ``datasets`` (split name -> dataset) the ones :func:`compress_chunk` reads from."""
    global _WORKER_DATASETS
    _WORKER_DATASETS = datasets


def compress_chunk(args: tuple[str, list[int], STC]) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``[n, T, P', H', W']`` and event counts of the recordings ``indices`` of a split."""
    split, indices, stc = args
    ds = _WORKER_DATASETS[split]
    recordings = [ds.read(i) for i in indices]
    frames = stc.frames(recordings)
    counts = np.array([len(r) for r in recordings], dtype=np.int64)
    return frames, counts


def chunks(n: int, size: int) -> Iterator[list[int]]:
    """``0..n-1`` in consecutive lists of ``size``."""
    for s in range(0, n, size):
        yield list(range(s, min(n, s + size)))


def widen_frames(f: h5py.File, old: h5py.Dataset, written: int, needed: float) -> h5py.Dataset:
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


class EvenSubset(EventDataset):
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
