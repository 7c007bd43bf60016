"""CIFAR10-DVS (Li et al. 2017): the original AEDAT 2.0 ``.aedat`` release or Tonic's ``.aedat4``
conversion; seeded stratified 9:1 split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tonic

from eventsnn.datasets._tonic import resolve_root
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.splits import stratified_split
from eventsnn.errors import DatasetNotFoundError
from eventsnn.events import SensorSize
from eventsnn.io import CIFAR10DVS_LAYOUT, read_aedat2_events, read_aedat4_events

__all__ = ["CIFAR10DVS", "find_recordings", "read_aedat4_events", "read_recording"]

CLASSES = tuple(tonic.datasets.CIFAR10DVS.classes)
SUFFIXES = (".aedat4", ".aedat")
"""Recording suffixes, preferred first when one recording is there in both forms."""


def find_recordings(class_folder: Path) -> list[Path]:
    """The recordings of one class folder: ``*.aedat4`` and ``*.aedat``, sorted by name; a
    recording present in both forms (same stem) is taken once, as ``.aedat4``."""
    if not class_folder.is_dir():
        return []
    chosen: dict[str, Path] = {}
    for suffix in reversed(SUFFIXES):  # later suffixes overwrite: the preferred one wins
        chosen.update({f.stem: f for f in class_folder.glob(f"*{suffix}") if f.suffix == suffix})
    return sorted(chosen.values(), key=lambda f: f.name)


def read_recording(path: str | Path, sensor_size: SensorSize | None = None) -> np.ndarray:
    """Read one CIFAR10-DVS recording of either release by its suffix: ``.aedat`` with
    :data:`eventsnn.io.aedat2.CIFAR10DVS_LAYOUT` (orientation unverified, see there),
    ``.aedat4`` with :func:`eventsnn.io.read_aedat4_events`; ``t`` from 0 µs."""
    if Path(path).suffix == ".aedat":
        return read_aedat2_events(path, sensor_size or CIFAR10DVS.sensor_size, CIFAR10DVS_LAYOUT)
    return read_aedat4_events(path, sensor_size)


class CIFAR10DVS(EventDataset):
    """CIFAR10-DVS: 128×128 sensor, 2 polarities, 10 classes, 1,000 recordings per class.

    Layout expected (class names: airplane, ..., truck)::

        <root>/CIFAR10DVS/<class name>/<name>.aedat4     Tonic's conversion (CIFAR10DVS.zip)
        <root>/CIFAR10DVS/<class name>/<name>.aedat      the original AEDAT 2.0 release

    Both kinds may be mixed; a recording present in both forms is read once, from ``.aedat4``.
    The ``.aedat`` files are decoded with :data:`eventsnn.io.aedat2.CIFAR10DVS_LAYOUT`
    (SpikingJelly's orientation; unverified here, no sample of either release being available).

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
        self.check_split(split)
        save_to = resolve_root(root, "CIFAR10DVS")
        folder = save_to / "CIFAR10DVS"
        files: list[str] = []
        targets: list[int] = []
        for label, cls in enumerate(CLASSES):
            found = find_recordings(folder / cls)
            files += [str(f) for f in found]
            targets += [label] * len(found)
        if not files:
            raise DatasetNotFoundError(
                f"CIFAR10-DVS not found: no files {folder}/<class>/*.aedat4 or *.aedat for classes "
                f"{', '.join(CLASSES)}. Extract Tonic's CIFAR10DVS.zip or the original release's "
                "class archives there; eventsnn never downloads."
            )
        if split != "all":
            keep, hold = stratified_split(targets, test_fraction, seed)
            chosen = keep if split == "train" else hold
            files = [files[i] for i in chosen]
            targets = [targets[i] for i in chosen]
        self.files = files
        self.targets = targets

    def read(self, index: int) -> np.ndarray:
        return read_recording(self.files[index], self.sensor_size)
