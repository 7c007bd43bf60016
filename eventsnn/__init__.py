"""eventsnn: event-camera recordings to spiking neural networks that decide in few time steps.

Public API (see the README)::

    from eventsnn import get_dataset, STC, compress_dataset, CompressedDataset
    from eventsnn import read_events                                   # any event file -> (events, sensor)
    from eventsnn import build_model, train, evaluate, load_model     # SNN core (lazy imports)

Sub-packages, reachable as attributes (``eventsnn.datasets``, ...; imported on first use):
:mod:`eventsnn.datasets`, :mod:`eventsnn.functional`, :mod:`eventsnn.transforms`,
:mod:`eventsnn.nn`, :mod:`eventsnn.run`, :mod:`eventsnn.train`, :mod:`eventsnn.bench`,
:mod:`eventsnn.convert`, :mod:`eventsnn.export`, :mod:`eventsnn.cli`, :mod:`eventsnn.viz`, :mod:`eventsnn.io` (event
files), :mod:`eventsnn.checkpoints` (which kind of checkpoint a file is). ``eventsnn.train`` is the
sub-package; calling it (``from eventsnn import train; train(config)``) calls
:func:`eventsnn.train.train`.

Deprecated (one release, warns): ``STCParams`` (use :class:`eventsnn.transforms.STC`).
"""

from __future__ import annotations

import importlib
from typing import Any

from eventsnn._version import __version__
from eventsnn.errors import EventsnnError
from eventsnn.events import EVENT_DTYPE, make_events, validate_events
from eventsnn.io import read_bin_events, read_events

# name -> module that defines it; imported on first use so `import eventsnn` stays light
_LAZY = {
    "get_dataset": "eventsnn.datasets",
    "CompressedDataset": "eventsnn.datasets",
    "SaccadeSimulator": "eventsnn.datasets",
    "STC": "eventsnn.transforms",
    "stc_numpy": "eventsnn.functional.stc",
    "stc_numpy_batch": "eventsnn.functional.stc",
    "stc_torch": "eventsnn.functional.stc",
    "STCParams": "eventsnn.compress",  # deprecated: warns
    "compress_dataset": "eventsnn.datasets.compressed",
    "build_model": "eventsnn.nn",
    "MTLIF": "eventsnn.nn",
    "evaluate": "eventsnn.train",
    "load_model": "eventsnn.train",
}

#: sub-packages and modules reachable as attributes, imported on first use
_SUBMODULES = (
    "bench", "checkpoints", "cli", "convert", "datasets", "export", "functional", "io", "nn", "paths",
    "run", "train", "transforms", "viz",
)

__all__ = ["EVENT_DTYPE", "EventsnnError", "__version__", "make_events", "read_bin_events",
           "read_events", "validate_events", "train", *(n for n in _LAZY if n != "STCParams")]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"eventsnn.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eventsnn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES, *_LAZY})
