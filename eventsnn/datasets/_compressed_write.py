"""The plumbing of :func:`eventsnn.datasets.compressed.compress_datasets`: what a worker process
does, which recordings are read together, widening the stored dtype, and an evenly spread subset
of a split."""

from __future__ import annotations

import h5py
import numpy as np

from eventsnn._workers import release_free_memory
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import InvalidParameterError
from eventsnn.transforms import STC

#: recordings per task when reading them together saves nothing
CHUNK = 16

_WORKER_DATASETS: dict[str, EventDataset] = {}


#: what :func:`compress_chunk` does: (split name, indices, STC settings, the dataset part to read
#: them from, or ``None`` for the split's dataset that :func:`init_worker` gave)
Task = tuple[str, list[int], STC, EventDataset | None]


def init_worker(datasets: dict[str, EventDataset]) -> None:
    """Make ``datasets`` (split name -> dataset) the ones :func:`compress_chunk` reads from."""
    global _WORKER_DATASETS
    _WORKER_DATASETS = datasets


def _batch_part(ds: EventDataset, indices: list[int]) -> tuple[EventDataset, list[int]] | None:
    """For a simulated dataset (or an :class:`EvenSubset` of one), the part holding only the
    batch that ``indices`` (all of one batch, see :func:`read_chunks`) are simulated from, and
    their indices there; ``None`` for other datasets."""
    if isinstance(ds, EvenSubset):
        return _batch_part(ds.base, [ds.indices[i] for i in indices])
    part = getattr(ds, "batch_part", None)
    if part is None or not indices:
        return None
    return part(indices[0] - indices[0] % int(ds.simulation_batch)), indices


def worker_datasets(datasets: dict[str, EventDataset]) -> dict[str, EventDataset]:
    """The datasets each worker gets once (:func:`init_worker`): all but the simulated ones,
    whose tasks carry the one batch of source images they need (:func:`make_task`), so that a
    worker does not hold a copy of every image (150 MB for CIFAR-10's training images)."""
    return {name: ds for name, ds in datasets.items() if read_groups(ds) is None}


def make_task(datasets: dict[str, EventDataset], split: str, indices: list[int], stc: STC) -> Task:
    """The :func:`compress_chunk` task for the recordings ``indices`` of split ``split``."""
    found = _batch_part(datasets[split], indices)
    return (split, indices, stc, None) if found is None else (split, found[1], stc, found[0])


def compress_chunk(args: Task) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``[n, T, P', H', W']`` and event counts of the recordings ``indices`` of a split."""
    split, indices, stc, part = args
    ds = _WORKER_DATASETS[split] if part is None else part
    recordings = [ds.read(i) for i in indices]
    frames = stc.frames(recordings)
    counts = np.array([len(r) for r in recordings], dtype=np.int64)
    release_free_memory()  # a simulated batch frees hundreds of MB: keep the footprint flat
    return frames, counts


def read_groups(ds: EventDataset) -> np.ndarray | None:
    """For each sample of ``ds``, the group it is produced with (a simulated dataset's batch, see
    ``simulation_batch`` in :mod:`eventsnn.datasets.synthetic`); ``None`` when every sample is
    read on its own."""
    if isinstance(ds, EvenSubset):
        base = read_groups(ds.base)
        return None if base is None else base[np.asarray(ds.indices, dtype=np.int64)]
    size = getattr(ds, "simulation_batch", None)
    return None if size is None else np.arange(len(ds)) // int(size)


def read_chunks(ds: EventDataset, size: int = CHUNK) -> list[list[int]]:
    """The indices ``0..len(ds)-1`` in consecutive tasks: of ``size``, or for a simulated
    dataset one task per simulated batch (so each batch is simulated once, by one worker)."""
    n = len(ds)
    groups = read_groups(ds)
    if groups is None:
        return [list(range(s, min(n, s + size))) for s in range(0, n, size)]
    cuts = np.flatnonzero(np.diff(groups)) + 1
    return [part.tolist() for part in np.split(np.arange(n), cuts)]


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
