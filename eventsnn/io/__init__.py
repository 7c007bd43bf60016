"""Readers of event-camera files into :data:`eventsnn.events.EVENT_DTYPE` recordings."""

from eventsnn.io.aedat2 import (
    DVS128_LAYOUT,
    DVS128_SENSOR_SIZE,
    AddressLayout,
    Aedat2Header,
    read_aedat2_events,
    read_aedat2_header,
    unwrap_timestamps,
)

__all__ = [
    "DVS128_LAYOUT",
    "DVS128_SENSOR_SIZE",
    "AddressLayout",
    "Aedat2Header",
    "read_aedat2_events",
    "read_aedat2_header",
    "unwrap_timestamps",
]
