"""CIFAR10-DVS (Li et al. 2017) read through Tonic's AEDAT4 reader; seeded stratified 9:1 split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tonic

from eventsnn.datasets._tonic import resolve_root
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.splits import stratified_split
from eventsnn.errors import (
    CorruptRecordingError,
    DatasetNotFoundError,
    EmptyRecordingError,
    InvalidParameterError,
)
from eventsnn.events import validate_events

__all__ = ["CIFAR10DVS", "read_aedat4_events"]

CLASSES = tuple(tonic.datasets.CIFAR10DVS.classes)


def read_aedat4_events(path: str | Path, sensor_size=None) -> np.ndarray:
    """Read the polarity events of an AEDAT 4 file with Tonic's reader (needs ``aedat``)."""
    from tonic.io import read_aedat4

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    if path.stat().st_size == 0:
        raise EmptyRecordingError(f"{path}: empty event file (0 bytes)")
    try:
        raw = read_aedat4(str(path))
    except Exception as exc:  # the aedat decoder raises plain RuntimeError/OSError/...
        raise CorruptRecordingError(f"{path}: not a readable AEDAT 4 file ({exc})") from exc
    if len(raw) == 0:
        raise EmptyRecordingError(f"{path}: holds no polarity events")
    raw = raw.copy()
    raw.dtype.names = ["t", "x", "y", "p"]  # as tonic.datasets.CIFAR10DVS names them
    ev = np.empty(len(raw), dtype=[("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
    ev["x"], ev["y"], ev["p"] = raw["x"], raw["y"], raw["p"]
    ev["t"] = raw["t"].astype(np.int64)
    if len(ev):
        ev["t"] -= ev["t"][0]
    return validate_events(ev, sensor_size, name=str(path))


class CIFAR10DVS(EventDataset):
    """CIFAR10-DVS: 128×128 sensor, 2 polarities, 10 classes, 1,000 recordings per class.

    Layout expected (Tonic's, as extracted from CIFAR10DVS.zip)::

        <root>/CIFAR10DVS/<class name>/<name>.aedat4      (class names: airplane, ..., truck)

    The dataset has no official split; ``split="train"``/``"test"`` is a seeded stratified 9:1
    split (``seed`` argument), ``split="all"`` is every recording. Timestamps start at 0 µs.
    """

    name = "cifar10dvs"
    sensor_size = tonic.datasets.CIFAR10DVS.sensor_size
    classes = CLASSES
    splits = ("train", "test", "all")

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        transform: Callable[[np.ndarray], Any] | None = None,
        seed: int = 0,
        test_fraction: float = 0.1,
    ) -> None:
        super().__init__(split, transform)
        if split not in self.splits:
            raise InvalidParameterError(f"cifar10dvs: split must be one of {self.splits}, got {split!r}")
        save_to = resolve_root(root, "CIFAR10DVS")
        folder = save_to / "CIFAR10DVS"
        files: list[str] = []
        targets: list[int] = []
        for label, cls in enumerate(CLASSES):
            found = sorted((folder / cls).glob("*.aedat4")) if (folder / cls).is_dir() else []
            files += [str(f) for f in found]
            targets += [label] * len(found)
        if not files:
            raise DatasetNotFoundError(
                f"CIFAR10-DVS not found: no files {folder}/<class>/*.aedat4 for classes "
                f"{', '.join(CLASSES)}. Extract CIFAR10DVS.zip there; eventsnn never downloads."
            )
        if split != "all":
            keep, hold = stratified_split(targets, test_fraction, seed)
            chosen = keep if split == "train" else hold
            files = [files[i] for i in chosen]
            targets = [targets[i] for i in chosen]
        self.files = files
        self.targets = targets

    def describe(self, index: int) -> str:
        return self.files[index]

    def read(self, index: int) -> np.ndarray:
        return read_aedat4_events(self.files[index], self.sensor_size)
