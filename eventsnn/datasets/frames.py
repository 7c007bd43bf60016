"""Frames in memory: chosen recordings -> STC frames once -> ``[N, T, P, H, W]`` tensors.

:func:`compress_recordings` reads and compresses the recordings ``indices`` of a dataset (with
:meth:`eventsnn.transforms.STC.frames`, in chunks); :func:`selection_frames` gives the
:class:`FrameSet` of any ``(dataset, indices)`` that :mod:`eventsnn.datasets.selection` chose,
compressing recordings or reading the frames of a compressed file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.data
from tqdm.auto import tqdm

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.compressed import CompressedDataset
from eventsnn.datasets.selection import open_split
from eventsnn.errors import InvalidParameterError
from eventsnn.transforms import STC

__all__ = ["FrameSet", "compress_recordings", "selection_frames", "load_frames"]

CHUNK = 256


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

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """``(T, P, H, W)`` of one sample."""
        return tuple(int(s) for s in self.x.shape[1:])

    def __repr__(self) -> str:
        return f"FrameSet(samples={len(self)}, frames={tuple(self.x.shape[1:])})"


def _on_sensor(stc: STC, dataset: EventDataset) -> STC:
    """``stc`` for the recordings of ``dataset`` (its settings on the dataset's sensor)."""
    sensor = tuple(int(s) for s in dataset.sensor_size)
    return stc if stc.sensor_size == sensor else dataclasses.replace(stc, sensor_size=sensor)


def compress_recordings(
    dataset: EventDataset,
    indices: np.ndarray,
    stc: STC,
    progress: bool = False,
    desc: str = "STC",
) -> torch.Tensor:
    """Read and compress the recordings ``indices`` of ``dataset`` into ``[N, T, P', H', W']``.

    ``stc`` gives the settings; the sensor is the dataset's.
    """
    stc = _on_sensor(stc, dataset)
    out = np.empty((len(indices), *stc.output_shape), dtype=np.float32)
    with tqdm(total=len(indices), desc=desc, unit="rec", disable=not progress, leave=False) as bar:
        for s in range(0, len(indices), CHUNK):
            chunk = indices[s : s + CHUNK]
            out[s : s + len(chunk)] = stc.frames([dataset.read(int(i)) for i in chunk])
            bar.update(len(chunk))
    return torch.from_numpy(out)


def _targets(dataset: EventDataset | CompressedDataset, indices: np.ndarray) -> torch.Tensor:
    t = np.asarray(dataset.targets, dtype=np.int64)
    return torch.from_numpy(t[indices] if len(indices) else np.zeros(0, np.int64))


def selection_frames(
    dataset: EventDataset | CompressedDataset,
    indices: np.ndarray,
    stc: STC | None = None,
    progress: bool = False,
    desc: str = "STC",
) -> FrameSet:
    """The :class:`FrameSet` of the samples ``indices`` of ``dataset``: the recordings
    compressed with ``stc``, or the stored frames of a :class:`CompressedDataset` (``stc`` unused)."""
    if isinstance(dataset, CompressedDataset):
        x = torch.from_numpy(np.ascontiguousarray(dataset.all_frames()[indices]))
    elif stc is None:
        raise InvalidParameterError("compressing recordings needs STC settings")
    else:
        x = compress_recordings(dataset, indices, stc, progress, desc)
    return FrameSet(x, _targets(dataset, indices))


def load_frames(
    name: str,
    root: str | Path | None,
    split: str,
    stc: STC,
    limit: int | None = None,
    indices: np.ndarray | None = None,
    progress: bool = False,
) -> FrameSet:
    """Frames of split ``split`` of dataset ``name`` (``limit`` samples; or the ``indices`` of
    that limited split), compressed once with ``stc``."""
    ds, idx = open_split(name, root, split, limit, progress)
    if indices is not None:
        idx = idx[np.asarray(indices, dtype=np.int64)]
    return selection_frames(ds, idx, stc, progress, f"STC {name} {split}")
