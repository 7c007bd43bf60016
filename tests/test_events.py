"""The event representation and the 40-bit reader on real N-MNIST files."""

from __future__ import annotations

import numpy as np
import pytest
import tonic

from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventCoordinateError,
    EventFormatError,
    TimestampError,
)
from eventsnn.events import (
    EVENT_DTYPE,
    EVENT_FILE_DTYPE,
    load_events,
    make_events,
    normalize_events,
    read_bin_events,
    save_events,
    validate_events,
    write_bin_events,
)


def test_dtype_fields_and_units():
    assert EVENT_DTYPE.names == ("x", "y", "t", "p")
    assert EVENT_DTYPE["t"] == np.int64 and EVENT_DTYPE["x"] == np.int16 and EVENT_DTYPE["p"] == np.int8


def test_real_nmnist_file_matches_tonic_reader(nmnist_files):
    path = nmnist_files[0]
    ours = read_bin_events(path, (34, 34, 2))
    ref = tonic.io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    assert ours.dtype == EVENT_DTYPE
    assert len(ours) == len(ref) == path.stat().st_size // 5
    for f in "xytp":
        np.testing.assert_array_equal(ours[f], ref[f])
    assert ours["x"].max() <= 33 and ours["y"].max() <= 33
    assert np.all(np.diff(ours["t"]) >= 0)


def test_write_read_roundtrip(tmp_path):
    ev = make_events([0, 5, 33], [1, 2, 3], [10, 20, 2**23 - 1], [1, 0, 1])
    write_bin_events(tmp_path / "a.bin", ev)
    back = read_bin_events(tmp_path / "a.bin", (34, 34, 2))
    for f in "xytp":
        np.testing.assert_array_equal(back[f], ev[f])


def test_npy_roundtrip_without_pickle(tmp_path, nmnist_files):
    ev = read_bin_events(nmnist_files[2], (34, 34, 2))
    save_events(tmp_path / "ev.npy", ev)
    raw = np.load(tmp_path / "ev.npy", allow_pickle=False)  # an ordinary .npy file
    assert raw.dtype == EVENT_FILE_DTYPE and raw.dtype.names == ("x", "y", "t", "p")
    back = load_events(tmp_path / "ev.npy")
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, ev)
    # plain np.save / np.load of the file dtype, converted back by field name
    np.save(tmp_path / "plain.npy", ev.astype(EVENT_FILE_DTYPE))
    np.testing.assert_array_equal(normalize_events(np.load(tmp_path / "plain.npy", allow_pickle=False)), ev)
    # EVENT_DTYPE itself cannot be np.save'd (out-of-order fields): documented, use save_events
    with pytest.raises(ValueError, match="out-of-order"):
        np.save(tmp_path / "direct.npy", ev)
    np.save(tmp_path / "plain_array.npy", np.zeros((3, 4)))
    with pytest.raises(EventFormatError, match="plain_array.npy"):
        load_events(tmp_path / "plain_array.npy")


def test_truncated_file(tmp_path, nmnist_files):
    data = nmnist_files[0].read_bytes()
    bad = tmp_path / "trunc.bin"
    bad.write_bytes(data[:-2])
    with pytest.raises(CorruptRecordingError, match="trunc.bin.*not a multiple of 5"):
        read_bin_events(bad)


def test_empty_file(tmp_path):
    (tmp_path / "e.bin").write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match="e.bin"):
        read_bin_events(tmp_path / "e.bin")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        read_bin_events(tmp_path / "nope.bin")


def test_out_of_range_coordinates_name_the_file(tmp_path):
    write_bin_events(tmp_path / "big.bin", make_events([40], [1], [5], [1]))
    with pytest.raises(EventCoordinateError, match=r"big.bin: x ranges over \[40, 40\].*34x34"):
        read_bin_events(tmp_path / "big.bin", (34, 34, 2))


def test_unsorted_and_negative_timestamps():
    with pytest.raises(TimestampError, match="not sorted"):
        validate_events(make_events([0, 0], [0, 0], [5, 3], [0, 1]))
    with pytest.raises(TimestampError, match="negative"):
        validate_events(make_events([0], [0], [-1], [0]))


def test_wrong_dtype_and_shape():
    with pytest.raises(EventFormatError, match="structured"):
        validate_events(np.zeros((5, 4)))
    with pytest.raises(EventFormatError, match="missing field"):
        validate_events(np.zeros(3, dtype=[("x", int), ("y", int), ("t", int)]))
    with pytest.raises(EventFormatError, match="same length"):
        make_events([1, 2], [1], [1], [1])


def test_normalize_tonic_dtypes():
    gesture = np.zeros(3, dtype=tonic.datasets.DVSGesture.dtype)
    gesture["p"] = [True, False, True]
    gesture["t"] = [1, 2, 3]
    out = normalize_events(gesture)
    assert out.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(out["p"], [1, 0, 1])
    signed = np.zeros(2, dtype=[("t", np.uint64), ("x", np.uint16), ("y", np.uint16), ("p", np.int8)])
    signed["p"] = [-1, 1]
    np.testing.assert_array_equal(normalize_events(signed)["p"], [0, 1])
