"""eventsnn: event-camera recordings to spiking neural networks that decide in few time steps.

Public API (see the README)::

    from eventsnn import get_dataset, STC, compress_dataset, STCParams, CompressedDataset
    from eventsnn import build_model, train, evaluate, load_model     # SNN core (lazy imports)

Sub-packages: :mod:`eventsnn.datasets`, :mod:`eventsnn.functional`, :mod:`eventsnn.nn`,
:mod:`eventsnn.train`, :mod:`eventsnn.bench`, :mod:`eventsnn.convert`, :mod:`eventsnn.export`.
"""

from __future__ import annotations

import importlib
from typing import Any

from eventsnn._version import __version__
from eventsnn.errors import EventsnnError
from eventsnn.events import EVENT_DTYPE, make_events, read_bin_events, validate_events

# name -> module that defines it; imported on first use so `import eventsnn` stays light
_LAZY = {
    "get_dataset": "eventsnn.datasets",
    "CompressedDataset": "eventsnn.datasets",
    "SaccadeSimulator": "eventsnn.datasets",
    "STC": "eventsnn.transforms",
    "stc_numpy": "eventsnn.functional.stc",
    "stc_numpy_batch": "eventsnn.functional.stc",
    "stc_torch": "eventsnn.functional.stc",
    "STCParams": "eventsnn.compress",
    "compress_dataset": "eventsnn.datasets.compressed",
    "build_model": "eventsnn.nn",
    "MTLIF": "eventsnn.nn",
    "train": "eventsnn.train",
    "evaluate": "eventsnn.train",
    "load_model": "eventsnn.train",
}

__all__ = ["EVENT_DTYPE", "EventsnnError", "__version__", "make_events", "read_bin_events",
           "validate_events", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eventsnn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
