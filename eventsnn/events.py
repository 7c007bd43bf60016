"""The one event representation used everywhere in eventsnn.

A recording is a 1-D numpy structured array with fields ``x, y, t, p``:

- ``x``, ``y``: pixel coordinates, ``int16``, ``0 <= x < W``, ``0 <= y < H``;
- ``t``: timestamp in microseconds (µs), ``int64``, non-negative and non-decreasing;
- ``p``: polarity, ``int8``, ``1`` = ON (brighter), ``0`` = OFF.

Its sensor is described by ``sensor_size = (W, H, P)`` as in Tonic. Every source (Tonic's
datasets, which each use a different dtype and field order, raw files, the simulator) is
normalised to this dtype on load by :func:`normalize_events`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventCoordinateError,
    EventFormatError,
    TimestampError,
)

EVENT_DTYPE = np.dtype(
    {
        "names": ["x", "y", "t", "p"],
        "formats": [np.int16, np.int16, np.int64, np.int8],
        "offsets": [0, 2, 8, 4],
        "itemsize": 16,
    }
)
"""The structured dtype of every recording (``t`` in µs).

Fields are named and ordered ``x, y, t, p``; in memory they are laid out aligned (16 bytes per
event: ``x`` at byte 0, ``y`` at 2, ``p`` at 4, ``t`` at 8) so every field is a properly strided
view that numpy and ``torch.from_numpy`` read fast, and ``x | y << 16`` is one 32-bit word (the
STC fast path reads it so).

Because ``p`` lies before ``t`` in memory but after it in field order, ``np.save`` refuses this
dtype ("out-of-order fields"); save recordings with :func:`save_events` (a packed, in-order
``.npy``, see :data:`EVENT_FILE_DTYPE`). An in-order layout would need 24 bytes per event
(``p`` after ``t``) or an unaligned ``t``; both were measured to slow STC by 5-15 %.
"""

EVENT_FILE_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "i1")])
"""Packed (13-byte), in-order, little-endian event dtype that ``.npy`` files hold."""

SensorSize = tuple[int, int, int]

__all__ = [
    "EVENT_DTYPE",
    "EVENT_FILE_DTYPE",
    "SensorSize",
    "empty_events",
    "make_events",
    "normalize_events",
    "validate_events",
    "read_bin_events",
    "write_bin_events",
    "save_events",
    "load_events",
]


def empty_events() -> np.ndarray:
    """Return a recording with no events."""
    return np.zeros(0, dtype=EVENT_DTYPE)


def make_events(x, y, t, p) -> np.ndarray:
    """Build a recording from four equally long 1-D sequences (``t`` in µs)."""
    x, y, t, p = (np.asarray(a) for a in (x, y, t, p))
    n = len(t)
    if not (len(x) == len(y) == len(p) == n):
        raise EventFormatError(
            f"x, y, t, p must have the same length, got {len(x)}, {len(y)}, {n}, {len(p)}"
        )
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def normalize_events(events: np.ndarray, name: str = "events") -> np.ndarray:
    """Convert any structured array with fields ``x, y, t, p`` to :data:`EVENT_DTYPE`.

    Accepts Tonic's dtypes (bool or int polarity, unsigned coordinates or timestamps, any field
    order). Polarities other than 0/1 (for example -1/+1) are mapped to OFF=0 / ON=1.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise EventFormatError(
            f"{name}: expected a numpy structured array with fields x, y, t, p, "
            f"got {type(events).__name__}"
            + (f" of dtype {events.dtype}" if isinstance(events, np.ndarray) else "")
        )
    missing = [f for f in ("x", "y", "t", "p") if f not in events.dtype.names]
    if missing:
        raise EventFormatError(f"{name}: missing field(s) {missing} in dtype {events.dtype}")
    if events.ndim != 1:
        raise EventFormatError(f"{name}: expected a 1-D event array, got shape {events.shape}")
    if events.dtype == EVENT_DTYPE:
        return events
    out = np.empty(len(events), dtype=EVENT_DTYPE)
    for f in ("x", "y", "t"):
        col = events[f]
        if not np.issubdtype(col.dtype, np.number) or np.issubdtype(col.dtype, np.complexfloating):
            raise EventFormatError(f"{name}: field {f!r} has non-numeric dtype {col.dtype}")
        if np.issubdtype(col.dtype, np.floating):
            col = np.floor(col)
        if f != "t" and len(col) and (col.max() > np.iinfo(np.int16).max or col.min() < np.iinfo(np.int16).min):
            raise EventCoordinateError(
                f"{name}: field {f!r} has values up to {col.max()}, beyond int16 coordinates"
            )
        if f == "t" and np.issubdtype(col.dtype, np.unsignedinteger) and len(col) and col.max() > np.iinfo(np.int64).max:
            raise TimestampError(f"{name}: timestamps exceed the int64 range")
        out[f] = col
    p = events["p"]
    out["p"] = (p > 0) if (p.dtype == bool or (len(p) and p.min() < 0)) else p
    return out


def validate_events(
    events: np.ndarray, sensor_size: SensorSize | None = None, name: str = "events"
) -> np.ndarray:
    """Check a recording and return it normalised to :data:`EVENT_DTYPE`.

    Raises:
        EventFormatError: not a structured array with ``x, y, t, p``.
        TimestampError: negative or decreasing timestamps.
        EventCoordinateError: ``x``/``y`` outside ``sensor_size`` or polarity not in ``0..P-1``
            (``P = 1`` sensors accept any polarity and merge them).
    """
    ev = normalize_events(events, name)
    if len(ev) == 0:
        return ev
    t = ev["t"]
    if t[0] < 0 or t.min() < 0:
        raise TimestampError(f"{name}: negative timestamp {int(t.min())} µs")
    if len(t) > 1:
        bad = np.flatnonzero(t[1:] < t[:-1])
        if len(bad):
            i = int(bad[0])
            raise TimestampError(
                f"{name}: timestamps not sorted: event {i + 1} at {int(t[i + 1])} µs "
                f"comes after {int(t[i])} µs ({len(bad)} decreasing step(s)); sort by t first"
            )
    if sensor_size is not None:
        w, h, n_pol = sensor_size
        for f, lim in (("x", w), ("y", h)):
            col = ev[f]
            lo, hi = int(col.min()), int(col.max())
            if lo < 0 or hi >= lim:
                raise EventCoordinateError(
                    f"{name}: {f} ranges over [{lo}, {hi}] but the sensor is "
                    f"{w}x{h} (valid {f}: 0..{lim - 1})"
                )
        if n_pol > 1:
            p = ev["p"]
            if int(p.min()) < 0 or int(p.max()) >= n_pol:
                raise EventCoordinateError(
                    f"{name}: polarity ranges over [{int(p.min())}, {int(p.max())}], "
                    f"expected 0..{n_pol - 1}"
                )
    return ev


def read_bin_events(path: str | Path, sensor_size: SensorSize | None = None) -> np.ndarray:
    """Read a recording in the N-MNIST 40-bit format (also SLAYER's ``.bs2``).

    Each event is 5 bytes: x (8 bits), y (8 bits), polarity (1 bit), timestamp (23 bits, µs).
    Decoding is Tonic's :func:`tonic.io.read_mnist_file` (including its timestamp-overflow
    markers); this function adds the checks Tonic leaves out.

    Raises:
        FileNotFoundError: the file does not exist.
        EmptyRecordingError: the file holds no events.
        CorruptRecordingError: the size is not a multiple of 5 bytes (truncated file).
        EventCoordinateError / TimestampError: decoded events do not fit ``sensor_size``.
    """
    from tonic.io import read_mnist_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise EmptyRecordingError(f"{path}: empty event file (0 bytes)")
    if size % 5:
        raise CorruptRecordingError(
            f"{path}: {size} bytes is not a multiple of 5 (40-bit events); the file is truncated"
        )
    raw = read_mnist_file(str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    if len(raw) == 0:
        raise EmptyRecordingError(f"{path}: holds no events (only timestamp-overflow markers)")
    return validate_events(raw, sensor_size, name=str(path))


def write_bin_events(path: str | Path, events: np.ndarray) -> None:
    """Write a recording in the N-MNIST 40-bit format (timestamps must be below 2**23 µs)."""
    ev = normalize_events(events)
    if len(ev) and (ev["t"].max() >= 2**23 or ev["x"].max() > 255 or ev["y"].max() > 255):
        raise EventCoordinateError("40-bit format holds x, y < 256 and t < 2**23 µs only")
    t = ev["t"].astype(np.uint32)
    raw = np.empty((len(ev), 5), dtype=np.uint8)
    raw[:, 0] = ev["x"]
    raw[:, 1] = ev["y"]
    raw[:, 2] = ((ev["p"].astype(np.uint32) & 1) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    Path(path).write_bytes(raw.tobytes())


def save_events(path: str | Path, events: np.ndarray) -> None:
    """Save a recording as a ``.npy`` file of :data:`EVENT_FILE_DTYPE` (no pickle).

    ``np.save`` cannot write :data:`EVENT_DTYPE` itself (its fields are out of order in
    memory); the file is an ordinary ``.npy`` that ``np.load(path, allow_pickle=False)`` reads.
    """
    np.save(path, normalize_events(events).astype(EVENT_FILE_DTYPE), allow_pickle=False)


def load_events(path: str | Path) -> np.ndarray:
    """Load a recording saved by :func:`save_events` (or any ``.npy`` of a structured array
    with fields ``x, y, t, p``) as :data:`EVENT_DTYPE`; never unpickles.

    Raises:
        FileNotFoundError: the file does not exist.
        EventFormatError: the array is not a 1-D structured array with ``x, y, t, p``.
    """
    return normalize_events(np.load(path, allow_pickle=False), str(path))
