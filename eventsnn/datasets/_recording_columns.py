"""Per-sample ``/recording`` and ``/session`` columns of a compressed file whose samples are
windows of long recordings (written by :func:`eventsnn.datasets.compress_datasets` when the
source datasets have them, read by :class:`eventsnn.datasets.CompressedDataset`). Files
without them (every file written before, and files of datasets of whole recordings) read as
before: ``recording_ids``, ``sessions`` and ``groups`` are then ``None``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

__all__ = ["read_recording_columns", "write_recording_columns"]

#: dataset attribute -> column name in the file
COLUMNS = {"recording_ids": "recording", "sessions": "session"}


def _per_sample(dataset: object, attribute: str) -> Sequence[str] | None:
    """``dataset.<attribute>`` per sample, also through an evenly spread subset (``limit``)."""
    values = getattr(dataset, attribute, None)
    if values is not None:
        return values
    base, indices = getattr(dataset, "base", None), getattr(dataset, "indices", None)
    if base is None or indices is None:
        return None
    inner = _per_sample(base, attribute)
    return None if inner is None else [inner[int(i)] for i in indices]


def write_recording_columns(f: h5py.File, datasets: Mapping[str, object]) -> None:
    """Write ``/recording`` and ``/session`` (one string per sample, in the file's order: the
    splits in the order of ``datasets``) when every split has them."""
    for attribute, column in COLUMNS.items():
        values = [_per_sample(ds, attribute) for ds in datasets.values()]
        if all(v is not None for v in values):
            flat = [str(x) for v in values for x in v]  # type: ignore[union-attr]
            f.create_dataset(column, data=np.array(flat, dtype=object), dtype=h5py.string_dtype())


def read_recording_columns(
    path: str | Path, indices: np.ndarray
) -> tuple[list[str] | None, list[str] | None, np.ndarray | None]:
    """``(recording_ids, sessions, groups)`` of the samples ``indices`` of a file (``None``
    where the file has no such column); ``groups``: an integer per recording id."""
    with h5py.File(path, "r") as f:
        found = {a: f[c].asstr()[:] if c in f else None for a, c in COLUMNS.items()}
    idx = np.asarray(indices, dtype=np.int64)
    ids, sessions = ((None if v is None else [str(x) for x in v[idx]]) for v in found.values())
    groups = None if ids is None else np.unique(np.asarray(ids, dtype=str), return_inverse=True)[1].astype(np.int64)
    return ids, sessions, groups
