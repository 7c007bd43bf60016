"""read_events picks the reader by suffix; every reader shares the file checks, reports truncation
and off-sensor events naming the file; writers are atomic; old names stay importable."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import eventsnn
import eventsnn.events
import eventsnn.io
from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventCoordinateError,
    EventFormatError,
    InvalidParameterError,
)
from eventsnn.events import EVENT_DTYPE, make_events
from eventsnn.io import (
    EVENT_SUFFIXES,
    SensorSizeWarning,
    infer_sensor_size,
    load_events,
    read_aedat2_events,
    read_aedat4,
    read_bin_events,
    read_events,
    read_gesture_npy,
    save_events,
    write_bin_events,
)

SMALL_AEDAT = "DVS128Objects/DataSet2/mech_pencil/Lapiseira.aedat"


AEDAT4 = "tonic_test_samples/sample.aedat4"


def _no_warning(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args)


def test_read_events_dispatches_by_suffix(tmp_path, data_dir, nmnist_files, dvs_clips):
    ev, sensor = _no_warning(read_events, nmnist_files[0])
    assert sensor == (34, 34, 2) and ev.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(ev, read_bin_events(nmnist_files[0]))
    ev, sensor = _no_warning(read_events, dvs_clips[0])
    assert sensor == (128, 128, 2) and len(ev) == len(read_bin_events(dvs_clips[0]))
    ev, sensor = _no_warning(read_events, data_dir / SMALL_AEDAT)
    assert sensor == (128, 128, 2) and len(ev) == 126_164
    np.testing.assert_array_equal(ev, read_aedat2_events(data_dir / SMALL_AEDAT))
    ev, sensor = _no_warning(read_events, data_dir / AEDAT4)
    assert sensor == (320, 240, 2) and len(ev) == 111_954 and ev["t"][0] == 0  # the size the file declares
    # DVS128 Gesture layout: [N, 4] x, y, p, t[ms]
    gesture = np.array([[3, 4, 1, 0.5], [127, 0, 0, 2.25], [5, 127, 1, 7.0]])
    np.save(tmp_path / "g.npy", gesture)
    ev, sensor = _no_warning(read_events, tmp_path / "g.npy")
    assert sensor == (128, 128, 2)
    assert ev["x"].tolist() == [3, 127, 5] and ev["p"].tolist() == [1, 0, 1]
    assert ev["t"].tolist() == [500, 2250, 7000]  # ms -> µs
    np.testing.assert_array_equal(read_gesture_npy(tmp_path / "g.npy"), ev)
    assert ".aedat" in EVENT_SUFFIXES and ".aedat4" in EVENT_SUFFIXES and len(EVENT_SUFFIXES) == 5


def test_structured_npy_states_no_sensor_the_guess_is_announced(tmp_path, nmnist_files):
    events = read_bin_events(nmnist_files[0])
    save_events(tmp_path / "rec.npy", events)
    with pytest.warns(SensorSizeWarning, match=r"rec\.npy: the file does not state its sensor .*read as a 34x34"):
        ev, sensor = read_events(tmp_path / "rec.npy")
    assert sensor == (34, 34, 2)
    np.testing.assert_array_equal(ev, events)
    ev, sensor = _no_warning(read_events, tmp_path / "rec.npy", (40, 36))
    assert sensor == (40, 36, 2) and len(ev) == len(events)


def test_events_off_the_format_sensor_warn_or_are_refused(tmp_path, data_dir):
    """An N-MNIST .bin with x = 40: the 34x34 sensor cannot hold it. Without a sensor the
    reader says so and guesses 128x128; with one, it refuses naming the file."""
    write_bin_events(tmp_path / "wide.bin", make_events([1, 40, 5], [1, 2, 3], [0, 10, 20], [0, 1, 0]))
    with pytest.warns(SensorSizeWarning, match=r"wide\.bin: its events do not fit the 34x34 sensor of N-MNIST "
                                               r".*x spans 0\.\.40, y 0\.\.3.*read as a 128x128 sensor"):
        ev, sensor = read_events(tmp_path / "wide.bin")
    assert sensor == (128, 128, 2) and len(ev) == 3
    with pytest.raises(EventCoordinateError, match=r"wide\.bin: x ranges over \[1, 40\] but the sensor is 34x34"):
        read_events(tmp_path / "wide.bin", (34, 34, 2))
    assert _no_warning(read_events, tmp_path / "wide.bin", (64, 64))[1] == (64, 64, 2)
    with pytest.raises(EventCoordinateError, match=r"sample\.aedat4: x ranges over .* sensor is 128x128"):
        read_aedat4(data_dir / AEDAT4, (128, 128, 2))


def test_unknown_suffix_and_bad_sensor_size(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(EventFormatError, match=r"x\.txt: unknown event file type '\.txt'; use one of \.bin, "):
        read_events(tmp_path / "x.txt")
    with pytest.raises(EventFormatError, match="no suffix"):
        read_events(tmp_path / "noext")
    write_bin_events(tmp_path / "a.bin", make_events([1], [1], [0], [1]))
    for bad in ((0, 34), (34,), (34, 34, 2, 1), (34.5, 34)):
        with pytest.raises(InvalidParameterError, match="sensor_size must be W H"):
            read_events(tmp_path / "a.bin", bad)


@pytest.mark.parametrize("suffix", EVENT_SUFFIXES)
def test_every_reader_shares_the_file_checks(tmp_path, suffix):
    with pytest.raises(FileNotFoundError, match=f"event file not found: .*missing{re.escape(suffix)}"):
        read_events(tmp_path / f"missing{suffix}")
    (tmp_path / f"folder{suffix}").mkdir()
    with pytest.raises(EventFormatError, match=f"folder{re.escape(suffix)}: is a directory"):
        read_events(tmp_path / f"folder{suffix}")
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match=rf"empty{re.escape(suffix)}: empty event file \(0 bytes\)"):
        read_events(tmp_path / f"empty{suffix}")


def test_truncated_files_are_reported_naming_them(tmp_path, data_dir, nmnist_files):
    data = nmnist_files[0].read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-2])
    with pytest.raises(CorruptRecordingError, match=r"cut\.bin: \d+ bytes of events is not a multiple of 5 "
                                                    r"\(one event\): the file is truncated"):
        read_events(tmp_path / "cut.bin")
    aedat = (data_dir / SMALL_AEDAT).read_bytes()
    (tmp_path / "cut.aedat").write_bytes(aedat[:5000])
    with pytest.raises(CorruptRecordingError, match=r"cut\.aedat: 1588 bytes of events after the 3412-byte "
                                                    r"header is not a multiple of 8 .*truncated"):
        read_events(tmp_path / "cut.aedat")
    # .npy: the header gives the shape, so a cut at an event boundary is seen too
    np.save(tmp_path / "g.npy", np.ones((10, 4)))
    raw = (tmp_path / "g.npy").read_bytes()
    (tmp_path / "g_cut.npy").write_bytes(raw[:-32])  # one whole row of 4 float64 less
    with pytest.raises(CorruptRecordingError, match=r"g_cut\.npy: truncated: the header announces 40 records"):
        read_events(tmp_path / "g_cut.npy")
    cut4 = (data_dir / AEDAT4).read_bytes()[:928_332]  # where the last event packet starts
    (tmp_path / "cut.aedat4").write_bytes(cut4)
    with pytest.raises(CorruptRecordingError, match=r"cut\.aedat4: not a readable AEDAT 4 file"):
        read_events(tmp_path / "cut.aedat4")


def test_infer_sensor_size():
    def ev(x, y):
        return make_events([0, x], [0, y], [0, 1], [0, 1])

    assert infer_sensor_size(ev(33, 33)) == (34, 34, 2)
    assert infer_sensor_size(ev(34, 0)) == (128, 128, 2)
    assert infer_sensor_size(ev(200, 100)) == (240, 180, 2)
    assert infer_sensor_size(ev(300, 250)) == (346, 260, 2)
    assert infer_sensor_size(ev(2000, 5)) == (2001, 6, 2)


def test_writers_are_atomic_and_check_what_they_write(tmp_path):
    ev = make_events([1, 2], [3, 4], [0, 10], [0, 1])
    save_events(tmp_path / "rec", ev)  # like np.save: .npy appended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.npy"]
    np.testing.assert_array_equal(load_events(tmp_path / "rec.npy"), ev)
    write_bin_events(tmp_path / "a.bin", ev)
    np.testing.assert_array_equal(read_bin_events(tmp_path / "a.bin"), ev)
    for bad in (make_events([-1], [0], [0], [0]), make_events([0], [0], [2**23], [0]), make_events([256], [0], [0], [0])):
        with pytest.raises(EventCoordinateError, match=r"b\.bin: the 40-bit format holds"):
            write_bin_events(tmp_path / "b.bin", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "rec.npy"]


def test_old_names_stay_importable():
    from eventsnn.datasets.cifar10dvs import read_aedat4_events
    from eventsnn.events import load_events as old_load
    from eventsnn.events import read_bin_events as old_read
    from eventsnn.events import save_events as old_save
    from eventsnn.events import write_bin_events as old_write

    assert old_read is eventsnn.io.read_bin_events and old_write is eventsnn.io.write_bin_events
    assert old_save is eventsnn.io.save_events and old_load is eventsnn.io.load_events
    assert eventsnn.read_bin_events is eventsnn.io.read_bin_events and eventsnn.read_events is read_events
    assert read_aedat4_events is eventsnn.io.read_aedat4_events
    assert eventsnn.io is eventsnn.__getattr__("io")
    with pytest.raises(AttributeError, match="no attribute 'read_nothing'"):
        eventsnn.events.read_nothing  # noqa: B018
