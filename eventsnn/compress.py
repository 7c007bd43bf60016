"""Deprecated (kept for one release): the HDF5 writer is :mod:`eventsnn.datasets.compressed`
(``compress_dataset``, ``compress_datasets``) and the STC settings are
:class:`eventsnn.transforms.STC`, which also holds the sensor size and calls the number of time
steps ``T``.

Every name of this module still works and warns with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from eventsnn._deprecation import deprecated_names
from eventsnn.events import SensorSize
from eventsnn.transforms import STC


@dataclass(frozen=True)
class _STCParams:
    """What ``eventsnn.compress.STCParams`` was: STC settings without the sensor size."""

    n_time_steps: int
    ratio: int = 1
    mode: str = "sum"
    decay: float = 0.5
    spatial_factor: int = 1
    merge_polarity: bool = False
    carry: bool = False

    def to_stc(self, sensor_size: SensorSize) -> STC:
        """These settings as an :class:`~eventsnn.transforms.STC` for recordings of ``sensor_size``."""
        return STC.from_dict(asdict(self), sensor_size)

    def frames(self, recordings: Sequence[np.ndarray], sensor_size: SensorSize) -> np.ndarray:
        return self.to_stc(sensor_size).frames(recordings)


_STCParams.__name__ = _STCParams.__qualname__ = "STCParams"


def _writer(name: str):
    def get():
        from eventsnn.datasets import compressed

        return getattr(compressed, name)

    return get


__getattr__ = deprecated_names(__name__, {
    "STCParams": (lambda: _STCParams, "use eventsnn.transforms.STC(sensor_size, T, ...)"),
    "compress_dataset": (_writer("compress_dataset"), "import it from eventsnn.datasets.compressed"),
    "compress_datasets": (_writer("compress_datasets"), "import it from eventsnn.datasets.compressed"),
    "CHUNK": (_writer("CHUNK"), "import it from eventsnn.datasets.compressed"),
})
