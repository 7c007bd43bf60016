"""The event representation and the 40-bit reader on real N-MNIST files."""

from __future__ import annotations

import numpy as np
import pytest
import tonic
from numpy.lib.recfunctions import require_fields

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
    # fields named in memory order (x, y, p, t), aligned, 16 bytes: the layout the STC kernel reads
    assert EVENT_DTYPE.names == ("x", "y", "p", "t")
    assert [EVENT_DTYPE.fields[f][1] for f in EVENT_DTYPE.names] == [0, 2, 4, 8]
    assert EVENT_DTYPE.itemsize == 16 and EVENT_DTYPE.isalignedstruct
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
    np.save(tmp_path / "plain.npy", require_fields(ev, EVENT_FILE_DTYPE))  # astype: by position
    np.testing.assert_array_equal(normalize_events(np.load(tmp_path / "plain.npy", allow_pickle=False)), ev)
    # EVENT_DTYPE itself is np.save'd and np.load'ed as it is (it was refused: out-of-order fields)
    np.save(tmp_path / "direct.npy", ev)
    direct = np.load(tmp_path / "direct.npy", allow_pickle=False)
    assert direct.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(direct, ev)
    np.testing.assert_array_equal(load_events(tmp_path / "direct.npy", (34, 34, 2)), ev)
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


def test_event_dtype_roundtrips_through_h5py_and_tonic(tmp_path, nmnist_files):
    h5py = pytest.importorskip("h5py")
    ev = read_bin_events(nmnist_files[1], (34, 34, 2))
    with h5py.File(tmp_path / "ev.h5", "w") as f:
        f.create_dataset("events", data=ev)
    with h5py.File(tmp_path / "ev.h5", "r") as f:
        back = f["events"][()]
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, ev)
    # Tonic's transforms take eventsnn events as they are, and their output round-trips too
    sensor = (34, 34, 2)
    tonic_ev = require_fields(ev, tonic.datasets.DVSGesture.dtype)  # x, y, p (bool), t
    for transform in (tonic.transforms.Denoise(filter_time=10_000), tonic.transforms.DropEvent(0.5),
                      tonic.transforms.Downsample(spatial_factor=0.5)):
        np.random.seed(0)
        ours = transform(ev)
        np.random.seed(0)
        ref = transform(tonic_ev)
        assert ours.dtype == EVENT_DTYPE and len(ours) == len(ref) > 0
        for f in "xytp":
            np.testing.assert_array_equal(ours[f], ref[f])
        np.save(tmp_path / "t.npy", ours)
        np.testing.assert_array_equal(np.load(tmp_path / "t.npy", allow_pickle=False), ours)
    frames = tonic.transforms.ToFrame(sensor, n_time_bins=3)(ev)
    np.testing.assert_array_equal(frames, tonic.transforms.ToFrame(sensor, n_time_bins=3)(tonic_ev))


def test_load_events_validates_and_names_the_file(tmp_path):
    ok = make_events([1, 2, 3], [3, 4, 5], [5, 6, 7], [1, 0, 1])
    cases = {
        "unsorted.npy": (make_events([1, 2], [1, 1], [5, 3], [0, 1]), TimestampError, "not sorted"),
        "negative_t.npy": (make_events([1, 2], [1, 1], [-5, 3], [0, 1]), TimestampError, "negative timestamp"),
        "negative_x.npy": (make_events([-1, 2], [1, 1], [3, 5], [0, 1]), EventCoordinateError,
                           r"x ranges over \[-1, 2\]; coordinates cannot be negative"),
    }
    for name, (events, exc, msg) in cases.items():
        np.save(tmp_path / name, events)
        with pytest.raises(exc, match=f"{name}: .*{msg}"):
            load_events(tmp_path / name)
    np.save(tmp_path / "ok.npy", ok)
    np.testing.assert_array_equal(load_events(tmp_path / "ok.npy"), ok)  # no sensor: no upper bound
    with pytest.raises(EventCoordinateError, match=r"ok.npy: x ranges over \[1, 3\] but the sensor is 3x5"):
        load_events(tmp_path / "ok.npy", (3, 5, 2))
    with pytest.raises(EventCoordinateError, match=r"ok.npy: y ranges over \[3, 5\] but the sensor is 4x5"):
        load_events(tmp_path / "ok.npy", (4, 5, 2))
    save_events(tmp_path / "none.npy", make_events([], [], [], []))
    assert len(load_events(tmp_path / "none.npy", (4, 5, 2))) == 0  # zero events: an empty recording


def test_load_events_bad_files_raise_toolkit_errors(tmp_path):
    save_events(tmp_path / "ev.npy", make_events([1, 2, 3], [3, 4, 5], [5, 6, 7], [1, 0, 1]))
    data = (tmp_path / "ev.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-13])  # cut at an event boundary: the header tells
    with pytest.raises(CorruptRecordingError, match=r"cut.npy: truncated: the header announces 3 records "
                                                    r"of 13 bytes .* holds 26 bytes"):
        load_events(tmp_path / "cut.npy")
    (tmp_path / "cut_mid.npy").write_bytes(data[:-5])
    with pytest.raises(CorruptRecordingError, match="cut_mid.npy: truncated"):
        load_events(tmp_path / "cut_mid.npy")
    (tmp_path / "long.npy").write_bytes(data + b"\0" * 13)
    with pytest.raises(CorruptRecordingError, match="long.npy: 13 bytes follow"):
        load_events(tmp_path / "long.npy")
    (tmp_path / "garbage.npy").write_bytes(b"not a numpy file at all")
    with pytest.raises(CorruptRecordingError, match="garbage.npy: not a .npy file"):
        load_events(tmp_path / "garbage.npy")
    (tmp_path / "short.npy").write_bytes(b"\x93NUM")
    with pytest.raises(CorruptRecordingError, match="short.npy: not a .npy file"):
        load_events(tmp_path / "short.npy")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match=r"empty.npy: empty event file \(0 bytes\)"):
        load_events(tmp_path / "empty.npy")
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(EventFormatError, match="folder.npy: is a directory"):
        load_events(tmp_path / "folder.npy")
    np.save(tmp_path / "objects.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EventFormatError, match="objects.npy: holds Python objects"):
        load_events(tmp_path / "objects.npy")
    with pytest.raises(FileNotFoundError, match="nope.npy"):
        load_events(tmp_path / "nope.npy")


def test_nan_and_inf_are_reported_as_such(tmp_path):
    fields = [("x", np.float32), ("y", np.float32), ("t", np.float64), ("p", np.float32)]
    ev = np.zeros(3, dtype=fields)
    ev["t"] = [1.0, np.nan, 3.0]
    with pytest.raises(TimestampError, match=r"1 event\(s\) have a NaN or infinite timestamp \(first: event 1"):
        normalize_events(ev)
    np.save(tmp_path / "nan_t.npy", ev)
    with pytest.raises(TimestampError, match="nan_t.npy: 1 event.*NaN or infinite timestamp"):
        load_events(tmp_path / "nan_t.npy")
    ev["t"] = [1.0, 2.0, np.inf]
    with pytest.raises(TimestampError, match="NaN or infinite timestamp .*event 2, timestamp inf"):
        validate_events(ev)
    ev["t"] = [1.0, 2.0, 3.0]
    ev["x"] = [np.nan, 1.0, np.nan]
    with pytest.raises(EventCoordinateError, match=r"2 event\(s\) have a NaN or infinite x"):
        validate_events(ev, (34, 34, 2))
    ev["x"] = 0.0
    ev["p"] = [0.0, -np.inf, 1.0]
    with pytest.raises(EventCoordinateError, match="NaN or infinite polarity"):
        normalize_events(ev)
    ev["p"] = [0.0, 1.0, 1.0]
    ev["t"] = [1.0, 2.0, 1e19]  # beyond int64 µs: reported, not wrapped to a negative timestamp
    with pytest.raises(TimestampError, match="timestamp values range over .* beyond the int64 range"):
        normalize_events(ev)
    ev["t"] = [1.5, 2.0, 3.9]  # finite floats are floored
    np.testing.assert_array_equal(normalize_events(ev)["t"], [1, 2, 3])
    big = np.zeros(1, dtype=[("x", np.int32), ("y", np.int32), ("t", np.int64), ("p", np.int16)])
    big["p"] = 300
    with pytest.raises(EventCoordinateError, match=r"polarity values range over \[300, 300\], beyond the int8"):
        normalize_events(big)


def test_truncated_aedat4_is_detected_even_at_a_packet_boundary(tmp_path, data_dir):
    """AEDAT 4 files closed properly end with a table of their packets (its offset is in the
    header): the decoder reads it first, so a file cut anywhere before it, at a packet boundary
    too, fails to load; a cut inside the table loses no event."""
    from eventsnn.datasets.cifar10dvs import read_aedat4_events

    data = (data_dir / "tonic_test_samples" / "sample.aedat4").read_bytes()
    full = read_aedat4_events(data_dir / "tonic_test_samples" / "sample.aedat4")
    assert len(full) == 111_954
    # 928332: the last event packet starts (stream 0, 16524 bytes); 945243: the packet table starts
    for cut in (100, 928_332, 930_000, 945_243 - 1):
        (tmp_path / f"cut{cut}.aedat4").write_bytes(data[:cut])
        with pytest.raises(CorruptRecordingError, match=f"cut{cut}.aedat4"):
            read_aedat4_events(tmp_path / f"cut{cut}.aedat4")
    (tmp_path / "table.aedat4").write_bytes(data[:947_000])
    np.testing.assert_array_equal(read_aedat4_events(tmp_path / "table.aedat4"), full)
