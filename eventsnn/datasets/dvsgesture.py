"""DVS128 Gesture (Amir et al. 2017) read through Tonic from its pre-processed files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tonic

from eventsnn.datasets._tonic import offline_tonic_split, resolve_root
from eventsnn.datasets.base import EventDataset
from eventsnn.errors import CorruptRecordingError, DatasetNotFoundError
from eventsnn.io import read_gesture_npy

__all__ = ["DVSGesture"]


class DVSGesture(EventDataset):
    """DVS128 Gesture: 128×128 sensor, 2 polarities, 11 gesture classes.

    Layout expected (Tonic's, as extracted from ibmGestureTrain.tar.gz / ibmGestureTest.tar.gz)::

        <root>/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy
        <root>/DVSGesture/ibmGestureTest/user<NN>_<lighting>/<label>.npy

    Each ``.npy`` is a float array ``[N, 4]`` with columns x, y, p, t (t in ms); it is read by
    :func:`eventsnn.io.read_gesture_npy` (never unpickled, checked against its header, t in µs). ``users`` and ``lighting`` give each
    sample's subject and lighting condition.
    """

    name = "dvsgesture"
    sensor_size = tonic.datasets.DVSGesture.sensor_size
    classes = tuple(tonic.datasets.DVSGesture.classes)
    splits = ("train", "test")

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        transform: Callable[[np.ndarray], Any] | None = None,
    ) -> None:
        super().__init__(split, transform)
        self.check_split(split)
        save_to = resolve_root(root, "DVSGesture")
        folder_name = "ibmGestureTrain" if split == "train" else "ibmGestureTest"
        folder = save_to / "DVSGesture" / folder_name
        if not (folder.is_dir() and any(folder.glob("user*_*/*.npy"))):
            raise DatasetNotFoundError(
                f"DVS128 Gesture {split} split not found: no files "
                f"{folder}/user<NN>_<lighting>/<label 0-10>.npy. Extract Tonic's "
                f"{folder_name}.tar.gz there; eventsnn never downloads."
            )
        tonic_ds, self.files, self.targets = offline_tonic_split(tonic.datasets.DVSGesture, save_to, split)
        self.users: list[int] = list(tonic_ds.users)
        self.lighting: list[str] = list(tonic_ds.lighting)
        bad = [f for f, t in zip(self.files, self.targets, strict=True) if not 0 <= t < len(self.classes)]
        if bad:
            raise CorruptRecordingError(f"{bad[0]}: file name is not a label 0..{len(self.classes) - 1}")

    def read(self, index: int) -> np.ndarray:
        return read_gesture_npy(self.files[index], self.sensor_size)
