"""The N-MNIST 40-bit event format: ``.bin`` (N-MNIST, N-Caltech101) and SLAYER's ``.bs2``.

Each event is 5 bytes: x (8 bits), y (8 bits), polarity (1 bit), timestamp (23 bits, µs). The
format has no header and no event count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventsnn.errors import EmptyRecordingError, EventCoordinateError
from eventsnn.events import SensorSize, normalize_events, validate_events
from eventsnn.io._files import check_whole_records, event_file_size
from eventsnn.outputs import atomic_path

__all__ = ["EVENT_BYTES", "read_bin_events", "write_bin_events"]

EVENT_BYTES = 5
"""Size of one 40-bit event."""


def read_bin_events(path: str | Path, sensor_size: SensorSize | None = None) -> np.ndarray:
    """Read a recording in the N-MNIST 40-bit format (also SLAYER's ``.bs2``).

    Decoding is Tonic's :func:`tonic.io.read_mnist_file` (including its timestamp-overflow
    markers); this function adds the checks Tonic leaves out.

    A file cut inside an event is detected (its size is not a multiple of 5); one cut exactly at
    an event boundary cannot be told from a shorter recording (no header, no count).

    Raises:
        FileNotFoundError: the file does not exist.
        EventFormatError: ``path`` is a folder.
        EmptyRecordingError: the file holds no events.
        CorruptRecordingError: the size is not a multiple of 5 bytes (truncated file).
        EventCoordinateError / TimestampError: decoded events do not fit ``sensor_size``.
    """
    from tonic.io import read_mnist_file

    path, size = event_file_size(path)
    check_whole_records(path, size, EVENT_BYTES)
    raw = read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    if len(raw) == 0:
        raise EmptyRecordingError(f"{path}: holds no events (only timestamp-overflow markers)")
    return validate_events(raw, sensor_size, name=str(path))


def write_bin_events(path: str | Path, events: np.ndarray) -> None:
    """Write a recording in the N-MNIST 40-bit format, atomically (``0 <= x, y < 256``,
    ``0 <= t < 2**23`` µs).

    Raises:
        EventCoordinateError: coordinates or timestamps the format cannot hold.
    """
    ev = normalize_events(events)
    if len(ev) and (min(ev["t"].min(), ev["x"].min(), ev["y"].min()) < 0 or ev["t"].max() >= 2**23
                    or ev["x"].max() > 255 or ev["y"].max() > 255):
        raise EventCoordinateError(f"{path}: the 40-bit format holds 0 <= x, y < 256 and "
                                   "0 <= t < 2**23 µs only")
    t = ev["t"].astype(np.uint32)
    raw = np.empty((len(ev), EVENT_BYTES), dtype=np.uint8)
    raw[:, 0] = ev["x"]
    raw[:, 1] = ev["y"]
    raw[:, 2] = ((ev["p"].astype(np.uint32) & 1) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    with atomic_path(path) as tmp:
        tmp.write_bytes(raw.tobytes())
