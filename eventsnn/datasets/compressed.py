"""Reading compressed datasets: HDF5 files of STC frames written by ``eventsnn compress``.

File layout (one file for a whole dataset, all splits)::

    /frames    [N, T, P, H, W]  uint8 | uint16 | float32 (sum-mode counts in the smallest type that
               holds them), chunks of ~256 KiB (whole samples), optionally lzf/gzip compressed
    /labels    int64   [N]
    /split     uint8   [N]               index into attrs["split_names"]
    /n_events  int64   [N]               events in each recording (sum-mode frames sum to it)
    /source    str     [N]               file (or sample id) each sample came from
    attrs: format="eventsnn-compressed", format_version, eventsnn_version, dataset, root,
           sensor_size, frame_shape, classes (JSON), split_names (JSON), stc (JSON), created

:class:`CompressedDataset` opens the file lazily in each process (safe with DataLoader workers)
and, for files up to ``preload_limit`` bytes of frames, reads the split into memory once (in the
stored dtype); samples are always returned as float32.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import torch.utils.data

from eventsnn.errors import CompressedFileError, InvalidParameterError

__all__ = ["FORMAT", "FORMAT_VERSION", "CompressedDataset", "read_attributes"]

FORMAT = "eventsnn-compressed"
FORMAT_VERSION = 1


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise FileNotFoundError(f"compressed dataset not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CompressedFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}") from exc
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise CompressedFileError(f"{path}: not an eventsnn compressed dataset (attribute format missing)")
    for key in ("frames", "labels", "split"):
        if key not in f:
            f.close()
            raise CompressedFileError(f"{path}: dataset /{key} missing")
    return f


def read_attributes(path: str | Path) -> dict[str, Any]:
    """All attributes of a compressed file, JSON fields decoded."""
    with _open(Path(path)) as f:
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in f.attrs.items()}
        attrs["n_samples"] = int(f["labels"].shape[0])
    for key in ("classes", "split_names", "stc"):
        if key in attrs:
            attrs[key] = json.loads(attrs[key])
    return attrs


class CompressedDataset(torch.utils.data.Dataset):
    """Frames ``[T, P, H, W]`` (float32 tensor) and label of each sample of one split.

    Args:
        path: file written by ``eventsnn compress`` / :func:`eventsnn.compress.compress_dataset`.
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
        with _open(self.path) as f:
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
        self.targets = labels[self.indices].astype(np.int64)
        self.n_events = n_events[self.indices]
        self.classes = self.attrs["classes"]
        self.sensor_size = tuple(self.attrs["sensor_size"])
        self.stc = self.attrs["stc"]
        self.transform = transform
        nbytes = len(self.indices) * int(np.prod(self.frame_shape)) * self.storage_dtype.itemsize
        self.preload = 0 < nbytes <= preload_limit
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._frames: np.ndarray | None = None

    @property
    def n_time_steps(self) -> int:
        return self.frame_shape[0]

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
            if len(self.indices) and np.all(np.diff(self.indices) == 1):
                self._frames = ds[int(self.indices[0]) : int(self.indices[-1]) + 1]
            else:
                self._frames = ds[self.indices] if len(self.indices) else np.zeros((0, *self.frame_shape), ds.dtype)
        return self._frames

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self.preload:
            frames = self._raw_frames()[i]
        else:
            frames = self._handle()["frames"][int(self.indices[i])]
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
