"""jAER AEDAT 2.0 reader: the 11 real DVS128Objects recordings and corrupted copies of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tonic
from _dvs128objects import HEADER_BYTES, RECORDINGS

from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventCoordinateError,
    TimestampError,
)
from eventsnn.events import EVENT_DTYPE
from eventsnn.io import (
    DVS128_LAYOUT,
    read_aedat2_events,
    read_aedat2_header,
    unwrap_timestamps,
)

RAW = np.dtype([("address", ">u4"), ("timeStamp", ">u4")])
SMALL = "DataSet2/mech_pencil/Lapiseira.aedat"
HEADER = b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n#End Of ASCII Header\r\n"


@pytest.fixture(scope="module")
def objects_dir(data_dir: Path) -> Path:
    return data_dir / "DVS128Objects"


@pytest.fixture(scope="module")
def small_file(objects_dir: Path) -> tuple[bytes, np.ndarray]:
    """Header bytes and the first 1,000 raw events of a real recording."""
    data = (objects_dir / SMALL).read_bytes()
    return data[:HEADER_BYTES], np.frombuffer(data, RAW, count=1000, offset=HEADER_BYTES).copy()


def write_aedat(path: Path, addresses, timestamps, header: bytes = HEADER) -> Path:
    raw = np.empty(len(addresses), RAW)
    raw["address"], raw["timeStamp"] = addresses, timestamps
    path.write_bytes(header + raw.tobytes())
    return path


def dvs128_address(x: int, y: int, on: bool) -> int:
    """jAER DVS128 raw address of pixel (x, y): x stored flipped, raw polarity 0 = ON."""
    return ((127 - x) << 1) | (y << 8) | (0 if on else 1)


@pytest.mark.parametrize("rel", sorted(RECORDINGS))
def test_real_recordings(objects_dir, rel):
    n_events, duration = RECORDINGS[rel]
    header = read_aedat2_header(objects_dir / rel)
    assert (header.version, header.data_start, header.n_events) == (2.0, HEADER_BYTES, n_events)
    assert header.chip == "ch.unizh.ini.jaer.chip.retina.DVS128" and header.end_marker
    ev = read_aedat2_events(objects_dir / rel)
    assert ev.dtype == EVENT_DTYPE and len(ev) == n_events
    assert ev["t"][0] == 0 and ev["t"][-1] == duration and 17e6 < duration < 23.5e6
    assert np.all(np.diff(ev["t"]) >= 0)
    assert ev["x"].min() == 0 and ev["x"].max() == 127 and ev["y"].min() == 0 and ev["y"].max() == 127
    assert set(np.unique(ev["p"])) == {0, 1}
    assert 0.5 < ev["p"].mean() < 0.6  # raw polarity bit 0 is set on 40-46 % of events: OFF


def test_real_events_match_raw_bits(objects_dir):
    data = (objects_dir / SMALL).read_bytes()
    raw = np.frombuffer(data, RAW, offset=HEADER_BYTES)
    ev = read_aedat2_events(objects_dir / SMALL)
    a, t = raw["address"].astype(np.int64), raw["timeStamp"].astype(np.int64)
    assert np.array_equal(ev["x"], 127 - ((a >> 1) & 0x7F))
    assert np.array_equal(ev["y"], (a >> 8) & 0x7F)
    assert np.array_equal(ev["p"], 1 - (a & 1))
    assert np.array_equal(ev["t"], t - t[0])


def test_tonic_read_dvs_128_fails_where_ours_reads(objects_dir):
    """Tonic 1.7.0's read_dvs_128 unpacks 2 of the header parser's 3 values; if this starts
    passing, Tonic fixed it (its x/y are still transposed relative to jAER's)."""
    path = objects_dir / SMALL
    with pytest.raises(ValueError, match="unpack"):
        tonic.io.read_dvs_128(str(path))
    assert len(read_aedat2_events(path)) == RECORDINGS[SMALL][0]


def test_tonic_header_parser_on_real_files(objects_dir, data_dir):
    version, start, creation = tonic.io.read_aedat_header_from_file(str(objects_dir / SMALL))
    assert (version, start, creation) == (2.0, HEADER_BYTES, 1538854011423)  # ms, not µs
    assert read_aedat2_header(objects_dir / SMALL).creation_time_ms == creation
    # header-only file: Tonic's data offset is the file's last byte (off by one), so its size
    # check would call it a truncated event; ours says it has no events
    sample = data_dir / "tonic_test_samples" / "sample_aedat_header.aedat"
    assert tonic.io.read_aedat_header_from_file(str(sample))[1] == sample.stat().st_size - 1
    with pytest.raises(EmptyRecordingError, match=r"sample_aedat_header\.aedat.*no events"):
        read_aedat2_events(sample)


def test_truncated_last_event(tmp_path, small_file):
    header, raw = small_file
    path = tmp_path / "cut.aedat"
    path.write_bytes(header + raw.tobytes() + raw[:1].tobytes()[:5])
    with pytest.raises(CorruptRecordingError, match=r"cut\.aedat.*8005 bytes.*truncated"):
        read_aedat2_events(path)
    path.write_bytes(header + raw.tobytes())  # cut at an event boundary: indistinguishable
    assert len(read_aedat2_events(path)) == 1000


def test_header_only_and_empty(tmp_path, small_file):
    header, _ = small_file
    (tmp_path / "h.aedat").write_bytes(header)
    with pytest.raises(EmptyRecordingError, match=r"h\.aedat.*no events"):
        read_aedat2_events(tmp_path / "h.aedat")
    (tmp_path / "zero.aedat").write_bytes(b"")
    with pytest.raises(EmptyRecordingError, match=r"zero\.aedat.*0 bytes"):
        read_aedat2_events(tmp_path / "zero.aedat")
    with pytest.raises(FileNotFoundError, match="missing.aedat"):
        read_aedat2_events(tmp_path / "missing.aedat")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x00\x12\x34" * 64, "not an AEDAT file"),
        (b"# a comment\r\n" + b"\x00" * 64, "not an AEDAT file"),  # Tonic: UnboundLocalError
        (b"#!AER-DAT3.1\r\n#End Of ASCII Header\r\n" + b"\x00" * 64, "AEDAT 3.1 file"),
    ],
)
def test_not_aedat2(tmp_path, content, match):
    path = tmp_path / "other.aedat"
    path.write_bytes(content)
    with pytest.raises(CorruptRecordingError, match=match):
        read_aedat2_events(path)


def test_timestamp_going_backwards(tmp_path, small_file):
    header, raw = small_file[0], small_file[1].copy()
    raw["timeStamp"][500] = raw["timeStamp"][499] - 1000
    path = tmp_path / "back.aedat"
    path.write_bytes(header + raw.tobytes())
    with pytest.raises(TimestampError, match=r"back\.aedat.*backwards: event 500 at"):
        read_aedat2_events(path)


def test_wrap_around_is_unwrapped(tmp_path):
    t = [2**32 - 300, 2**32 - 100, 2**32 - 1, 0, 50, 250]
    addr = [dvs128_address(i, 2 * i, i % 2 == 0) for i in range(len(t))]
    ev = read_aedat2_events(write_aedat(tmp_path / "wrap.aedat", addr, t))
    assert ev["t"].tolist() == [0, 200, 299, 300, 350, 550]
    assert ev["x"].tolist() == list(range(6)) and ev["y"].tolist() == list(range(0, 12, 2))
    assert ev["p"].tolist() == [1, 0, 1, 0, 1, 0]


def test_wrap_around_in_real_events(tmp_path, small_file):
    header, raw = small_file
    plain = tmp_path / "plain.aedat"
    plain.write_bytes(header + raw.tobytes())
    shifted = raw.copy()  # move the clock so that it wraps between events 599 and 600
    offset = (2**32 - int(raw["timeStamp"][600])) % 2**32
    shifted["timeStamp"] = (raw["timeStamp"].astype(np.int64) + offset) % 2**32
    assert shifted["timeStamp"][600] == 0 and shifted["timeStamp"][599] > 2**31
    wrapped = tmp_path / "wrapped.aedat"
    wrapped.write_bytes(header + shifted.tobytes())
    assert np.array_equal(read_aedat2_events(wrapped), read_aedat2_events(plain))


def test_unwrap_timestamps():
    r = 2**32
    t = np.array([r - 10, 5, 20, r - 5, 3], dtype=np.uint32)
    assert unwrap_timestamps(t).tolist() == [r - 10, r + 5, r + 20, 2 * r - 5, 2 * r + 3]
    with pytest.raises(TimestampError, match="recording.*event 2"):
        unwrap_timestamps(np.array([0, 2**31, 1], dtype=np.uint32), "recording")


def test_address_bits_outside_the_layout(tmp_path):
    addr = [dvs128_address(1, 1, True), dvs128_address(2, 2, False) | 1 << 16]
    path = write_aedat(tmp_path / "stray.aedat", addr, [0, 10])
    with pytest.raises(EventCoordinateError, match=r"stray\.aedat.*event 1 .*0x000102fb"):
        read_aedat2_events(path)


def test_special_events_are_dropped(tmp_path):
    addr = [dvs128_address(3, 4, True), 0x8000, dvs128_address(5, 6, False), 0x8000_0000]
    ev = read_aedat2_events(write_aedat(tmp_path / "sync.aedat", addr, [100, 150, 200, 250]))
    assert ev["x"].tolist() == [3, 5] and ev["y"].tolist() == [4, 6] and ev["t"].tolist() == [0, 100]
    with pytest.raises(EmptyRecordingError, match="special event"):
        read_aedat2_events(write_aedat(tmp_path / "only.aedat", [0x8000], [0]))


def test_sensor_size_and_layout_parameters(objects_dir, tmp_path):
    with pytest.raises(EventCoordinateError, match=r"Lapiseira\.aedat.*x ranges over \[0, 127\]"):
        read_aedat2_events(objects_dir / SMALL, sensor_size=(64, 128, 2))
    path = write_aedat(tmp_path / "a.aedat", [dvs128_address(0, 0, True)], [0])
    assert read_aedat2_events(path)[["x", "y"]].tolist() == [(0, 0)]
    from dataclasses import replace

    flipped = replace(DVS128_LAYOUT, flip_x=False, flip_y=True)
    assert read_aedat2_events(path, layout=flipped)[["x", "y"]].tolist() == [(127, 127)]
