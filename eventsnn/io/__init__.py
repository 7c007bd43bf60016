"""Event files -> :data:`eventsnn.events.EVENT_DTYPE` recordings (as ``tonic.io`` in Tonic).

:func:`read_events` reads any of them, picking the reader by suffix (``.bin``, ``.bs2``,
``.aedat``, ``.aedat4``, ``.npy``) and returning ``(events, sensor_size)``; the readers of each
format are here too. Every reader names the file in its exceptions, reports an empty file
(EmptyRecordingError) and a file cut inside an event (CorruptRecordingError) the same way, and
validates what it decoded (:func:`eventsnn.events.validate_events`).

- :mod:`~eventsnn.io.bin40`: N-MNIST 40-bit ``.bin`` / SLAYER ``.bs2`` (read and write);
- :mod:`~eventsnn.io.aedat2`: jAER AEDAT 2.0 ``.aedat`` (DVS128; original CIFAR10-DVS release);
- :mod:`~eventsnn.io.aedat4`: AEDAT 4 ``.aedat4`` (Tonic's CIFAR10-DVS release);
- :mod:`~eventsnn.io.npy`: ``.npy`` structured events (save/load) and DVS128 Gesture arrays;
- :mod:`~eventsnn.io.formats`: the suffix table and :func:`read_events`.
"""

from eventsnn.io.aedat2 import (
    CIFAR10DVS_LAYOUT,
    DVS128_LAYOUT,
    DVS128_SENSOR_SIZE,
    AddressLayout,
    Aedat2Header,
    read_aedat2_events,
    read_aedat2_header,
    unwrap_timestamps,
)
from eventsnn.io.aedat4 import read_aedat4, read_aedat4_events
from eventsnn.io.bin40 import read_bin_events, write_bin_events
from eventsnn.io.formats import (
    EVENT_FORMATS,
    EVENT_SUFFIXES,
    EventFileFormat,
    SensorSizeWarning,
    check_sensor_size,
    event_file_format,
    infer_sensor_size,
    read_events,
)
from eventsnn.io.npy import (
    load_events,
    read_gesture_npy,
    read_npy_array,
    read_npy_events,
    save_events,
)

__all__ = [
    "CIFAR10DVS_LAYOUT",
    "DVS128_LAYOUT",
    "DVS128_SENSOR_SIZE",
    "EVENT_FORMATS",
    "EVENT_SUFFIXES",
    "AddressLayout",
    "Aedat2Header",
    "EventFileFormat",
    "SensorSizeWarning",
    "check_sensor_size",
    "event_file_format",
    "infer_sensor_size",
    "load_events",
    "read_aedat2_events",
    "read_aedat2_header",
    "read_aedat4",
    "read_aedat4_events",
    "read_bin_events",
    "read_events",
    "read_gesture_npy",
    "read_npy_array",
    "read_npy_events",
    "save_events",
    "unwrap_timestamps",
    "write_bin_events",
]
