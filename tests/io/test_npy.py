"""Recordings in .npy files: what is not event data is refused, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.recfunctions import require_fields

import eventsnn
import eventsnn.events
import eventsnn.io
from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventFormatError,
)
from eventsnn.events import empty_events
from eventsnn.io import (
    load_events,
    read_events,
)


def test_npy_that_is_not_event_data(tmp_path):
    np.save(tmp_path / "img.npy", np.zeros((4, 4, 3)))
    with pytest.raises(CorruptRecordingError, match=r"img\.npy: expected a structured array .* got float64 \(4, 4, 3\)"):
        read_events(tmp_path / "img.npy")
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EventFormatError, match=r"obj\.npy: holds Python objects"):
        read_events(tmp_path / "obj.npy")
    np.save(tmp_path / "none.npy", require_fields(empty_events(), eventsnn.events.EVENT_FILE_DTYPE))
    assert len(load_events(tmp_path / "none.npy")) == 0  # an empty recording loads as such
    with pytest.raises(EmptyRecordingError, match=r"none\.npy: holds no events"):
        read_events(tmp_path / "none.npy")  # but read_events always returns events
