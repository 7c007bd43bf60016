"""The one event representation used everywhere in eventsnn.

A recording is a 1-D numpy structured array with fields ``x, y, p, t`` (in that order, which
is also their order in memory; code addresses them by name):

- ``x``, ``y``: pixel coordinates, ``int16``, ``0 <= x < W``, ``0 <= y < H``;
- ``p``: polarity, ``int8``, ``1`` = ON (brighter), ``0`` = OFF;
- ``t``: timestamp in microseconds (µs), ``int64``, non-negative and non-decreasing.

Its sensor is described by ``sensor_size = (W, H, P)`` as in Tonic. Every source (Tonic's
datasets, which each use a different dtype and field order, raw files, the simulator) is
normalised to this dtype on load by :func:`normalize_events` and checked by
:func:`validate_events`. The arrays are ordinary numpy data: ``np.save``/``np.load``
(``allow_pickle=False``), h5py datasets and Tonic's transforms take them as they are.

Event files are read by :mod:`eventsnn.io` (:func:`eventsnn.io.read_events` reads any of them);
``read_bin_events``, ``write_bin_events``, ``save_events`` and ``load_events`` stay importable
from this module as aliases of their :mod:`eventsnn.io` versions.
"""

from __future__ import annotations

import numpy as np

from eventsnn.errors import (
    EventCoordinateError,
    EventFormatError,
    TimestampError,
)

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)], align=True)
"""The structured dtype of every recording (``t`` in µs).

Fields in order and aligned, 16 bytes per event: ``x`` at byte 0, ``y`` at 2, ``p`` at 4 (3
padding bytes), ``t`` at 8. Every field is a properly strided view that numpy and
``torch.from_numpy`` read fast, ``x | y << 16`` is one 32-bit word (the STC kernel reads it
so), and, the fields being in memory order, ``np.save``, h5py and Tonic's DVS Gesture dtype
(also ``x, y, p, t``) handle it like any other structured dtype. (Earlier versions named the
same bytes in the order ``x, y, t, p``, which ``np.save`` refused as out of order.)

Convert to another structured dtype by field name, with :func:`normalize_events` (to this
dtype) or ``numpy.lib.recfunctions.require_fields(events, dtype)``: ``events.astype(dtype)``
casts structured arrays *by position*, so into an ``x, y, t, p`` dtype such as Tonic's N-MNIST
one it would silently swap polarities and timestamps.
"""

EVENT_FILE_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "i1")])
"""Packed (13-byte), little-endian event dtype that :func:`eventsnn.io.save_events` writes (files are 19 %
smaller than with :data:`EVENT_DTYPE`'s padding); :func:`eventsnn.io.load_events` reads either."""

SensorSize = tuple[int, int, int]

__all__ = [
    "EVENT_DTYPE",
    "EVENT_FILE_DTYPE",
    "SensorSize",
    "empty_events",
    "make_events",
    "normalize_events",
    "validate_events",
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


#: the integer type each field is stored in
_FIELD_TYPES = {"x": np.int16, "y": np.int16, "p": np.int8, "t": np.int64}


def _field_error(field: str, message: str) -> EventCoordinateError | TimestampError:
    """The exception for a bad value in ``field``: TimestampError for ``t``, else coordinates."""
    return TimestampError(message) if field == "t" else EventCoordinateError(message)


def _integer_column(events: np.ndarray, field: str, name: str) -> np.ndarray:
    """Field ``field`` of ``events`` as values that fit :data:`EVENT_DTYPE` (floats floored).

    Raises EventFormatError (non-numeric), TimestampError / EventCoordinateError (NaN, infinite
    or out of the field's integer range)."""
    col = events[field]
    label = "timestamp" if field == "t" else ("polarity" if field == "p" else field)
    if col.dtype == bool and field == "p":
        return col
    if not np.issubdtype(col.dtype, np.number) or np.issubdtype(col.dtype, np.complexfloating):
        raise EventFormatError(f"{name}: field {field!r} has non-numeric dtype {col.dtype}")
    if not len(col):
        return col
    if np.issubdtype(col.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(col))
        if len(bad):
            i = int(bad[0])
            raise _field_error(field, f"{name}: {len(bad)} event(s) have a NaN or infinite {label} "
                                      f"(first: event {i}, {label} {col[i]})")
        col = np.floor(col)
    lo, hi = int(col.min()), int(col.max())
    info = np.iinfo(_FIELD_TYPES[field])
    if field == "p" and lo < 0:
        info = np.iinfo(np.int64)  # -1/+1 style polarities are mapped to 0/1 below
    if lo < info.min or hi > info.max:
        raise _field_error(field, f"{name}: {label} values range over [{lo}, {hi}], beyond the "
                                  f"{np.dtype(_FIELD_TYPES[field]).name} range of eventsnn events")
    return col


def normalize_events(events: np.ndarray, name: str = "events") -> np.ndarray:
    """Convert any structured array with fields ``x, y, t, p`` to :data:`EVENT_DTYPE`.

    Accepts Tonic's dtypes (bool or int polarity, unsigned coordinates or timestamps, float
    fields, any field order); float values are floored. Polarities other than 0/1 (for example
    -1/+1) are mapped to OFF=0 / ON=1.

    Raises:
        EventFormatError: not a 1-D structured array with numeric ``x, y, t, p``.
        TimestampError: a NaN or infinite timestamp, or one beyond int64.
        EventCoordinateError: a NaN or infinite coordinate or polarity, or one beyond the
            field's integer type (int16 for ``x``, ``y``; int8 for ``p``).
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
        out[f] = _integer_column(events, f, name)
    p = _integer_column(events, "p", name)
    out["p"] = (p > 0) if (p.dtype == bool or (len(p) and p.min() < 0)) else p
    return out


def validate_events(
    events: np.ndarray, sensor_size: SensorSize | None = None, name: str = "events"
) -> np.ndarray:
    """Check a recording and return it normalised to :data:`EVENT_DTYPE`.

    Raises:
        EventFormatError: not a structured array with ``x, y, t, p``.
        TimestampError: negative, decreasing, NaN or infinite timestamps.
        EventCoordinateError: negative ``x``/``y`` (always), ``x``/``y`` outside
            ``sensor_size`` or polarity not in ``0..P-1`` (when ``sensor_size`` is given;
            ``P = 1`` sensors accept any polarity and merge them).
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
    w, h, n_pol = sensor_size if sensor_size is not None else (None, None, 1)
    for f, lim in (("x", w), ("y", h)):
        col = ev[f]
        lo, hi = int(col.min()), int(col.max())
        if lim is None and lo < 0:
            raise EventCoordinateError(f"{name}: {f} ranges over [{lo}, {hi}]; coordinates cannot be negative")
        if lim is not None and (lo < 0 or hi >= lim):
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


#: names whose home is now :mod:`eventsnn.io`, kept importable from here
_MOVED_TO_IO = ("read_bin_events", "write_bin_events", "save_events", "load_events")


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook (PEP 562)
    if name in _MOVED_TO_IO:
        import eventsnn.io

        return getattr(eventsnn.io, name)
    raise AttributeError(f"module 'eventsnn.events' has no attribute {name!r}")
