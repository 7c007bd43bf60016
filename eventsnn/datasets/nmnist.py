"""N-MNIST (Orchard et al. 2015) read through Tonic from extracted files; nothing downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tonic

from eventsnn.datasets._tonic import offline_tonic_split, resolve_root
from eventsnn.datasets.base import EventDataset
from eventsnn.errors import DatasetNotFoundError
from eventsnn.io import read_bin_events

__all__ = ["NMNIST"]


class NMNIST(EventDataset):
    """N-MNIST recordings: 34×34 sensor, 2 polarities, 10 digit classes, ~300 ms each.

    Layout expected (Tonic's, as extracted from Train.zip / Test.zip)::

        <root>/NMNIST/Train/<digit>/<id>.bin
        <root>/NMNIST/Test/<digit>/<id>.bin

    Any number of ``.bin`` files is accepted. ``root`` may also be the ``NMNIST`` folder itself.

    Args:
        root: folder containing ``NMNIST/`` (default: the shared data folder).
        split: ``"train"`` or ``"test"``.
        transform: applied to the events of each sample.
        first_saccade_only: keep only events of the first saccade (t < 100 ms), as in Tonic.
    """

    name = "nmnist"
    sensor_size = tonic.datasets.NMNIST.sensor_size
    classes = tuple(str(i) for i in range(10))
    splits = ("train", "test")

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        transform: Callable[[np.ndarray], Any] | None = None,
        first_saccade_only: bool = False,
    ) -> None:
        super().__init__(split, transform)
        self.check_split(split)
        save_to = resolve_root(root, "NMNIST")
        folder_name = "Train" if split == "train" else "Test"
        folder = save_to / "NMNIST" / folder_name
        files = sorted(folder.glob("*/*.bin")) if folder.is_dir() else []
        if not files:
            raise DatasetNotFoundError(
                f"N-MNIST {split} split not found: no files {folder}/<digit 0-9>/<id>.bin. "
                f"Extract the official {folder_name}.zip (doi:10.17632/468j46mzdv.1) so that "
                f"{folder}/0/00002.bin etc. exist; eventsnn never downloads."
            )
        _, self.files, self.targets = offline_tonic_split(tonic.datasets.NMNIST, save_to, split)
        self.first_saccade_only = first_saccade_only

    def read(self, index: int) -> np.ndarray:
        events = read_bin_events(self.files[index], self.sensor_size)
        if self.first_saccade_only:
            events = events[events["t"] < 100_000]
        return events
