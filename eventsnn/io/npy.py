"""Recordings in numpy ``.npy`` files, read without ever unpickling.

Two layouts:

- a 1-D structured array with fields ``x, y, t, p`` (any order, numeric; ``t`` in µs), as
  :func:`save_events` or ``np.save`` of eventsnn events write it: :func:`load_events`;
- a numeric ``[N, 4]`` array with columns ``x, y, p, t`` and ``t`` in **ms**, Tonic's DVS128
  Gesture files (``ibmGestureTrain/user<NN>_<lighting>/<label>.npy``): :func:`read_gesture_npy`.

:func:`read_npy_events` reads either. Every reader checks the file against its ``.npy`` header
(shape and dtype), so a file cut short, even at an event boundary, is reported as truncated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.lib.recfunctions import require_fields

from eventsnn.errors import CorruptRecordingError, EventFormatError
from eventsnn.events import EVENT_FILE_DTYPE, SensorSize, normalize_events, validate_events
from eventsnn.io._files import event_file_size
from eventsnn.outputs import atomic_path

__all__ = ["load_events", "read_gesture_npy", "read_npy_array", "read_npy_events", "save_events"]

DVSGESTURE_SENSOR_SIZE: SensorSize = (128, 128, 2)


def save_events(path: str | Path, events: np.ndarray) -> None:
    """Save a recording as a ``.npy`` file of the packed :data:`~eventsnn.events.EVENT_FILE_DTYPE`
    (no pickle), atomically; like ``np.save``, ``.npy`` is appended to a name without it.

    ``np.save(path, events)`` works as well (16 bytes per event instead of 13) and
    :func:`load_events` reads both; either file is an ordinary ``.npy`` that
    ``np.load(path, allow_pickle=False)`` reads.
    """
    path = Path(path)
    if path.suffix != ".npy":  # as np.save names it
        path = path.with_name(path.name + ".npy")
    packed = require_fields(normalize_events(events), EVENT_FILE_DTYPE)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.save(f, packed, allow_pickle=False)


def _npy_header(f, path: Path) -> tuple[tuple[int, ...], np.dtype]:  # noqa: ANN001 (binary file)
    """``(shape, dtype)`` from the header of the ``.npy`` file open as ``f``; leaves ``f`` at
    the first data byte."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(f)
    except (ValueError, EOFError, OSError, UnicodeDecodeError, SyntaxError) as exc:
        raise CorruptRecordingError(f"{path}: not a .npy file ({exc})") from exc
    return shape, dtype


def read_npy_array(path: str | Path) -> np.ndarray:
    """The array of a ``.npy`` file, after checking its size against the header; never unpickles.

    Raises:
        FileNotFoundError: the file does not exist.
        EmptyRecordingError: the file is empty (0 bytes).
        CorruptRecordingError: not a ``.npy`` file, or truncated (shorter than its header
            announces) or with bytes after the array.
        EventFormatError: ``path`` is a folder, or the array holds Python objects (refused
            without unpickling).
    """
    path, size = event_file_size(path)
    with path.open("rb") as f:
        shape, dtype = _npy_header(f, path)
        if dtype.hasobject:
            raise EventFormatError(f"{path}: holds Python objects ({dtype}); eventsnn never "
                                   "unpickles data files. Save events with np.save or save_events")
        data_start = f.tell()
        expected = data_start + int(np.prod(shape)) * dtype.itemsize
        if size != expected:
            what = f"{int(np.prod(shape))} records of {dtype.itemsize} bytes (shape {shape})"
            raise CorruptRecordingError(
                f"{path}: truncated: the header announces {what} but the file holds "
                f"{size - data_start} bytes of data" if size < expected else
                f"{path}: {size - expected} bytes follow the {what} its header announces; "
                f"not a file np.save wrote")
        f.seek(0)
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise CorruptRecordingError(f"{path}: cannot read the .npy array ({exc})") from exc


def _structured_events(array: np.ndarray, path: Path, sensor_size: SensorSize | None) -> np.ndarray:
    return validate_events(array, sensor_size, name=str(path))


def _gesture_events(array: np.ndarray, path: Path, sensor_size: SensorSize | None) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != 4 or not np.issubdtype(array.dtype, np.number):
        raise CorruptRecordingError(
            f"{path}: expected a numeric [N, 4] array (x, y, p, t[ms]), got {array.dtype} {array.shape}"
        )
    ev = np.empty(len(array), dtype=[("x", np.float64), ("y", np.float64), ("t", np.float64), ("p", np.float64)])
    ev["x"], ev["y"], ev["p"] = array[:, 0], array[:, 1], array[:, 2]
    ev["t"] = np.round(array[:, 3] * 1000)
    return validate_events(ev, sensor_size, name=str(path))


def load_events(path: str | Path, sensor_size: SensorSize | None = None) -> np.ndarray:
    """Load a recording from a ``.npy`` file of a structured array as
    :data:`~eventsnn.events.EVENT_DTYPE`; never unpickles.

    The file holds a 1-D structured array with fields ``x, y, t, p`` in any order and numeric
    dtypes: written by :func:`save_events`, by ``np.save`` of eventsnn events or of any loader's
    output. The recording is validated as :func:`~eventsnn.events.validate_events` does:
    timestamps non-negative, finite and sorted, coordinates non-negative, and with
    ``sensor_size`` ``(W, H, P)`` on the sensor. A file holding zero events loads as an empty
    recording.

    Raises:
        FileNotFoundError, EmptyRecordingError, CorruptRecordingError: see :func:`read_npy_array`.
        EventFormatError: ``path`` is a folder, or the array is not a 1-D structured array
            with numeric ``x, y, t, p`` (an object array is refused without unpickling).
        TimestampError, EventCoordinateError: see :func:`~eventsnn.events.validate_events`.
    """
    return _structured_events(read_npy_array(path), Path(path), sensor_size)


def read_gesture_npy(path: str | Path, sensor_size: SensorSize | None = DVSGESTURE_SENSOR_SIZE) -> np.ndarray:
    """Read a DVS128 Gesture ``.npy`` as Tonic ships it: a numeric ``[N, 4]`` array of
    ``x, y, p, t`` with ``t`` in ms (converted to µs, rounded).

    Raises:
        FileNotFoundError, EmptyRecordingError, EventFormatError: see :func:`read_npy_array`.
        CorruptRecordingError: not a ``.npy`` file, truncated, or not a numeric ``[N, 4]`` array.
        TimestampError, EventCoordinateError: see :func:`~eventsnn.events.validate_events`.
    """
    return _gesture_events(read_npy_array(path), Path(path), sensor_size)


def read_npy_events(path: str | Path, sensor_size: SensorSize | None = None) -> tuple[np.ndarray, SensorSize | None]:
    """``(events, the layout's sensor)`` from either ``.npy`` layout (see the module docstring).

    The layout's sensor is DVS128 Gesture's ``(128, 128, 2)`` for an ``[N, 4]`` array and None
    for a structured one (any sensor). Events are checked against ``sensor_size`` when given.
    """
    path = Path(path)
    array = read_npy_array(path)
    if array.dtype.names is not None:
        return _structured_events(array, path, sensor_size), None
    if array.ndim != 2 or array.shape[1] != 4:
        raise CorruptRecordingError(
            f"{path}: expected a structured array (x, y, t, p) or a numeric [N, 4] array "
            f"(x, y, p, t[ms]), got {array.dtype} {array.shape}"
        )
    return _gesture_events(array, path, sensor_size), DVSGESTURE_SENSOR_SIZE
