"""Base class of every event dataset: ``(events, label)`` pairs with known sensor and classes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch.utils.data

from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize

__all__ = ["EventDataset"]


class EventDataset(torch.utils.data.Dataset):
    """A labelled set of event recordings in the one eventsnn representation.

    Subclasses set ``name``, ``sensor_size`` ``(W, H, P)``, ``classes`` (and ``splits``, checked
    by :meth:`check_split`), fill ``targets`` (and ``files``, one path a sample, where samples are
    files) and implement :meth:`read` (the raw recording as :data:`eventsnn.events.EVENT_DTYPE`,
    validated).

    ``dataset[i]`` returns ``(transform(events), label)``; with no transform ``events`` is the
    structured array (``t`` in µs).
    """

    name: str = ""
    sensor_size: SensorSize = (0, 0, 0)
    classes: Sequence[str] = ()
    splits: tuple[str, ...] = ()

    def __init__(self, split: str, transform: Callable[[np.ndarray], Any] | None = None) -> None:
        self.split = split
        self.transform = transform
        self.targets: list[int] = []

    def read(self, index: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_split(self, split: str, hint: str = "") -> None:
        """Raise :class:`InvalidParameterError` unless ``split`` is one of ``splits``."""
        if split not in self.splits:
            raise InvalidParameterError(f"{self.name}: split must be one of {self.splits}, got {split!r}{hint}")

    def describe(self, index: int) -> str:
        """Human-readable identity of a sample (a file path where there is one)."""
        files = getattr(self, "files", None)
        return files[index] if files is not None else f"{self.name}[{self.split}][{index}]"

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}: index {index} out of range for {len(self)} samples")
        events = self.read(index)
        if self.transform is not None:
            events = self.transform(events)
        return events, int(self.targets[index])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, "
            f"sensor_size={tuple(self.sensor_size)}, classes={len(self.classes)})"
        )
