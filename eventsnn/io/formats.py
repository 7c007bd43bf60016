"""One entry point for event files: :func:`read_events` picks the reader by suffix.

============  ==========================================================  ==================
suffix        format (reader)                                             nominal sensor
============  ==========================================================  ==================
``.bin``      N-MNIST 40-bit events (:func:`read_bin_events`)             34×34×2 (N-MNIST)
``.bs2``      SLAYER 40-bit events (:func:`read_bin_events`)              128×128×2 (DVS128)
``.aedat``    jAER AEDAT 2.0, DVS128 (:func:`read_aedat2_events`)         128×128×2
``.aedat4``   AEDAT 4 (:func:`read_aedat4`)                               declared by the file
``.npy``      structured ``x, y, t, p`` (:func:`load_events`), or         none / 128×128×2
              DVS128 Gesture ``[N, 4]`` x, y, p, t[ms]
              (:func:`read_gesture_npy`)
============  ==========================================================  ==================

The sensor a recording is returned with is, in order: ``sensor_size`` when given (the events
are checked against it: EventCoordinateError naming the file otherwise); the sensor the format
or the file states, when the events fit on it; else a guess, the smallest common sensor holding
the coordinates (:func:`infer_sensor_size`), with a :class:`SensorSizeWarning` saying so (and
that the events did not fit the nominal sensor, where there is one). ``.aedat`` files are
decoded with jAER's DVS128 layout, as jAER shows them; the original CIFAR10-DVS ``.aedat``
files use another (:data:`~eventsnn.io.aedat2.CIFAR10DVS_LAYOUT`, applied by the
``cifar10dvs`` dataset).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventsnn.errors import EmptyRecordingError, EventFormatError, InvalidParameterError
from eventsnn.events import SensorSize
from eventsnn.io.aedat2 import DVS128_SENSOR_SIZE, read_aedat2_events
from eventsnn.io.aedat4 import read_aedat4
from eventsnn.io.bin40 import read_bin_events
from eventsnn.io.npy import read_npy_events

__all__ = [
    "COMMON_SENSORS",
    "EVENT_FORMATS",
    "EVENT_SUFFIXES",
    "EventFileFormat",
    "SensorSizeWarning",
    "check_sensor_size",
    "event_file_format",
    "infer_sensor_size",
    "read_events",
]

#: (width, height) of common event cameras, smallest first: N-MNIST's ATIS crop, DVS128,
#: DAVIS240, DAVIS346, 640×480 (DVXplorer, Prophesee Gen3 VGA), 1280×720 (Prophesee HD)
COMMON_SENSORS: tuple[tuple[int, int], ...] = (
    (34, 34), (128, 128), (240, 180), (346, 260), (640, 480), (1280, 720)
)

NMNIST_SENSOR_SIZE: SensorSize = (34, 34, 2)

Reader = Callable[[Path, "SensorSize | None"], "tuple[np.ndarray, SensorSize | None]"]


class SensorSizeWarning(UserWarning):
    """The sensor of a recording was guessed from its coordinates (see :func:`read_events`)."""


@dataclass(frozen=True)
class EventFileFormat:
    """One event-file format: its suffixes, what it is, and its reader
    ``read(path, sensor_size) -> (events, nominal sensor or None)``."""

    suffixes: tuple[str, ...]
    description: str
    read: Reader


def _fixed(reader: Callable[[Path, SensorSize | None], np.ndarray], nominal: SensorSize) -> Reader:
    def read(path: Path, sensor_size: SensorSize | None) -> tuple[np.ndarray, SensorSize | None]:
        return reader(path, sensor_size), nominal

    return read


def _aedat2(path: Path, sensor_size: SensorSize | None) -> np.ndarray:
    return read_aedat2_events(path, sensor_size or DVS128_SENSOR_SIZE)


EVENT_FORMATS: tuple[EventFileFormat, ...] = (
    EventFileFormat((".bin",), "N-MNIST 40-bit events", _fixed(read_bin_events, NMNIST_SENSOR_SIZE)),
    EventFileFormat((".bs2",), "SLAYER 40-bit events (DVS128 Gesture)", _fixed(read_bin_events, DVS128_SENSOR_SIZE)),
    EventFileFormat((".aedat",), "jAER AEDAT 2.0 (DVS128)", _fixed(_aedat2, DVS128_SENSOR_SIZE)),
    EventFileFormat((".aedat4",), "AEDAT 4", read_aedat4),
    EventFileFormat((".npy",), "numpy: structured x, y, t[µs], p or DVS128 Gesture [N, 4] x, y, p, t[ms]",
                    read_npy_events),
)
"""Every format :func:`read_events` reads."""

EVENT_SUFFIXES: tuple[str, ...] = tuple(s for f in EVENT_FORMATS for s in f.suffixes)


def event_file_format(path: str | Path) -> EventFileFormat:
    """The :class:`EventFileFormat` of ``path``, by its suffix (case-insensitive).

    Raises:
        EventFormatError: unknown suffix (the message names the file and the known suffixes).
    """
    suffix = Path(path).suffix.lower()
    for fmt in EVENT_FORMATS:
        if suffix in fmt.suffixes:
            return fmt
    raise EventFormatError(f"{path}: unknown event file type {suffix or '(no suffix)'!r}; "
                           f"use one of {', '.join(EVENT_SUFFIXES)}")


def check_sensor_size(sensor_size: Sequence[int], name: str = "sensor_size") -> SensorSize:
    """``(W, H, P)`` from ``(W, H)`` (P = 2) or ``(W, H, P)`` of positive integers.

    Raises:
        InvalidParameterError: anything else (the message starts with ``name``).
    """
    values = tuple(sensor_size)
    if len(values) == 2:
        values = (*values, 2)
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in values):
        raise InvalidParameterError(f"{name} must be W H [P], positive integers, got {list(sensor_size)}")
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def _fits(events: np.ndarray, sensor: SensorSize) -> bool:
    return int(events["x"].max()) < sensor[0] and int(events["y"].max()) < sensor[1]


def infer_sensor_size(events: np.ndarray) -> SensorSize:
    """Smallest of :data:`COMMON_SENSORS` holding the events, else the coordinate range; 2
    polarities. ``events`` must not be empty."""
    w, h = int(events["x"].max()) + 1, int(events["y"].max()) + 1
    for sw, sh in COMMON_SENSORS:
        if w <= sw and h <= sh:
            return (sw, sh, 2)
    return (w, h, 2)


def read_events(path: str | Path, sensor_size: Sequence[int] | None = None) -> tuple[np.ndarray, SensorSize]:
    """Read any event file eventsnn knows (by suffix, see the module docstring).

    Args:
        path: the file.
        sensor_size: ``(W, H)`` or ``(W, H, P)``; the events must lie on it. None: the
            format's or file's sensor, else a guess (with a :class:`SensorSizeWarning`).

    Returns:
        ``(events, sensor_size)``: a non-empty :data:`~eventsnn.events.EVENT_DTYPE` recording,
        ``t`` in µs as the format stores it (AEDAT files: from 0 at the first event), and
        ``(W, H, P)``.

    Raises:
        FileNotFoundError: no such file.
        EventFormatError: unknown suffix, a folder, or an array that is not event data.
        EmptyRecordingError: no events.
        CorruptRecordingError: truncated or undecodable.
        EventCoordinateError, TimestampError: events off ``sensor_size`` (or the file's own
            sensor), timestamps negative or decreasing.
        InvalidParameterError: ``sensor_size`` is not ``W H [P]`` of positive integers.
    """
    path = Path(path)
    fmt = event_file_format(path)
    given = None if sensor_size is None else check_sensor_size(sensor_size)
    events, nominal = fmt.read(path, given)
    if len(events) == 0:
        raise EmptyRecordingError(f"{path}: holds no events")
    if given is not None:
        return events, given
    if nominal is not None and _fits(events, nominal):
        return events, nominal
    guess = infer_sensor_size(events)
    span = f"x spans 0..{int(events['x'].max())}, y 0..{int(events['y'].max())}"
    why = (f"its events do not fit the {nominal[0]}x{nominal[1]} sensor of {fmt.description} ({span})"
           if nominal is not None else f"the file does not state its sensor ({span})")
    warnings.warn(SensorSizeWarning(f"{path}: {why}; read as a {guess[0]}x{guess[1]} sensor, the "
                                    "smallest common one holding them"), stacklevel=2)
    return events, guess
