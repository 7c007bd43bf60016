"""iniVation AEDAT 4 ``.aedat4`` files (DV software; Tonic's CIFAR10-DVS release).

Decoding is the ``aedat`` package's (the one :func:`tonic.io.read_aedat4` wraps). Its decoder
reads the packet table that a properly closed file ends with (its offset is in the header)
before any event, so a file cut anywhere before that table, at a packet boundary too, fails to
load (see ``tests/test_events.py``); a cut inside the table loses no event. Unlike Tonic's
wrapper, the width and height the file declares for its event stream are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eventsnn.errors import CorruptRecordingError, EmptyRecordingError
from eventsnn.events import SensorSize, normalize_events, validate_events
from eventsnn.io._files import event_file_size

__all__ = ["read_aedat4", "read_aedat4_events"]


def read_aedat4(path: str | Path, sensor_size: SensorSize | None = None) -> tuple[np.ndarray, SensorSize | None]:
    """``(events, the sensor the file declares)`` from the first event stream of an AEDAT 4 file.

    ``t`` is in µs from the first event (the camera clock's origin is arbitrary). The declared
    sensor is ``(width, height, 2)``, or None when the file gives no size. Events are checked
    against ``sensor_size`` when given, else against the declared sensor.

    Raises:
        FileNotFoundError, EventFormatError (a folder), EmptyRecordingError (0 bytes, no event
        stream or no events), CorruptRecordingError (not AEDAT 4, truncated or damaged),
        EventCoordinateError / TimestampError (see :func:`eventsnn.events.validate_events`).
    """
    import aedat

    path, _ = event_file_size(path)
    try:
        decoder = aedat.Decoder(str(path))
        streams = decoder.id_to_stream()
        ids = sorted(i for i, s in streams.items() if s.get("type") == "events")
        if not ids:
            raise EmptyRecordingError(f"{path}: AEDAT 4 file without an event stream")
        packets = [p["events"] for p in decoder if p["stream_id"] == ids[0] and "events" in p]
    except EmptyRecordingError:
        raise
    except Exception as exc:  # the aedat decoder raises plain RuntimeError/OSError/...
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CorruptRecordingError(f"{path}: not a readable AEDAT 4 file ({first})") from exc
    stream = streams[ids[0]]
    declared = (int(stream["width"]), int(stream["height"]), 2) if stream.get("width") else None
    raw = np.concatenate(packets) if packets else np.zeros(0)
    if len(raw) == 0:
        raise EmptyRecordingError(f"{path}: holds no polarity events")
    raw = raw.copy()
    raw.dtype.names = ("t", "x", "y", "p")  # the decoder's fields: t, x, y, on (titled "p"), bool
    ev = normalize_events(raw, str(path))
    ev["t"] -= ev["t"][0]
    return validate_events(ev, sensor_size or declared, name=str(path)), declared


def read_aedat4_events(path: str | Path, sensor_size: SensorSize | None = None) -> np.ndarray:
    """The polarity events of an AEDAT 4 file (see :func:`read_aedat4`), ``t`` from 0 µs."""
    return read_aedat4(path, sensor_size)[0]
