"""jAER AEDAT 2.0 ``.aedat`` files (DVS128 and the original CIFAR10-DVS release).

An AEDAT 2.0 file is ASCII header lines starting with ``#`` (the first is ``#!AER-DAT2.0``),
then 8-byte events: a big-endian ``uint32`` address and a big-endian ``uint32`` timestamp in µs.
The header holds no event count, end time or checksum, so a file cut exactly at an event
boundary cannot be told from a shorter recording; the only checks the format allows are that
the data length is a multiple of 8 bytes and that the timestamps make sense.

Parsing is Tonic's (:func:`tonic.io.read_aedat_header_from_file`,
:func:`tonic.io.get_aer_events_from_file`); this module adds what Tonic leaves out:

- the first line must be ``#!AER-DAT2.x`` (Tonic fails with ``UnboundLocalError`` otherwise);
- a header that runs to the end of the file (no events) is reported as such (Tonic then returns
  a data offset one byte before the end of the file, which looks like a truncated event);
- a trailing partial event is an error (Tonic's ``np.fromfile`` silently drops it);
- 32-bit timestamp wrap-arounds (every 2**32 µs = 71.6 min) are unwrapped;
- jAER's special events (sync/external input, bit 15, and the special-event bit 31) are dropped,
  as jAER's DVS128 extractor does (it gives them no pixel); other bits outside the address
  layout are an error;
- addresses are decoded the way jAER's DVS128 extractor decodes them (see :data:`DVS128_LAYOUT`),
  which Tonic 1.7.0's ``read_dvs_128`` does not (it cannot even run on these files: it unpacks
  two values from the three the header parser returns, ``ValueError``; and it reads x from bits
  8-14 and y from bits 1-7, a transposed image, with polarity not inverted).

Timestamps start at 0 µs at the first pixel event: jAER writes the camera's free-running clock
(the DVS128Objects recordings start between 37 and 67 minutes into it), an arbitrary origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventCoordinateError,
    TimestampError,
)
from eventsnn.events import SensorSize, make_events, validate_events
from eventsnn.io._files import check_whole_records, event_file_size

__all__ = [
    "CIFAR10DVS_LAYOUT",
    "DVS128_LAYOUT",
    "DVS128_SENSOR_SIZE",
    "Aedat2Header",
    "AddressLayout",
    "read_aedat2_events",
    "read_aedat2_header",
    "unwrap_timestamps",
]

EVENT_BYTES = 8
"""Size of one AEDAT 2.0 event: big-endian uint32 address + uint32 timestamp (µs)."""

TIMESTAMP_RANGE = 2**32
"""AEDAT 2.0 timestamps are uint32 µs: they wrap around after 2**32 µs (71.6 minutes)."""

DVS128_SENSOR_SIZE: SensorSize = (128, 128, 2)


@dataclass(frozen=True)
class AddressLayout:
    """Where x, y and polarity sit in a raw 32-bit AEDAT 2.0 address.

    ``x = (addr & x_mask) >> x_shift`` (then ``x_max - x`` when ``flip_x``), likewise y;
    polarity is ON (1) when ``addr & polarity_mask`` equals ``on_value``, else OFF (0).
    Addresses with any bit of ``special_mask`` set are special (non-pixel) events and are
    dropped; any other bit outside the x, y and polarity masks is an error.
    """

    x_mask: int
    x_shift: int
    y_mask: int
    y_shift: int
    polarity_mask: int
    on_value: int
    flip_x: bool = False
    flip_y: bool = False
    special_mask: int = 0

    @property
    def x_max(self) -> int:
        return self.x_mask >> self.x_shift

    @property
    def y_max(self) -> int:
        return self.y_mask >> self.y_shift

    @property
    def pixel_mask(self) -> int:
        """Every bit a pixel event may have set."""
        return self.x_mask | self.y_mask | self.polarity_mask

    def decode(self, addr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, p)`` of pixel addresses (special events already removed)."""
        a = addr.astype(np.int64)
        x = (a & self.x_mask) >> self.x_shift
        y = (a & self.y_mask) >> self.y_shift
        if self.flip_x:
            x = self.x_max - x
        if self.flip_y:
            y = self.y_max - y
        p = ((a & self.polarity_mask) == self.on_value).astype(np.int8)
        return x, y, p


DVS128_LAYOUT = AddressLayout(
    x_mask=0x00FE, x_shift=1, y_mask=0x7F00, y_shift=8,
    polarity_mask=0x1, on_value=0, flip_x=True, special_mask=0x8000_8000,
)
"""jAER's DVS128 extractor (``ch.unizh.ini.jaer.chip.retina.DVS128.Extractor``):
``x = 127 - bits 1-7``, ``y = bits 8-14``, raw polarity bit 0 = 0 is ON ("The ON events have raw
polarity 0"); bit 15 (sync / external input) and bit 31 mark special events."""

CIFAR10DVS_LAYOUT = AddressLayout(
    x_mask=0x7F00, x_shift=8, y_mask=0x00FE, y_shift=1,
    polarity_mask=0x1, on_value=0, flip_x=True, flip_y=True, special_mask=0x8000_8000,
)
"""The original CIFAR10-DVS release (``<class>/*.aedat``, written by MATLAB's ``saveaerdat.m``
from a DVS128): ``x = 127 - bits 8-14``, ``y = 127 - bits 1-7``, raw polarity bit 0 = 0 is ON.

This is the orientation SpikingJelly's ``CIFAR10DVS.load_origin_data`` gives (``x = 127 - y_raw,
y = 127 - x_raw, p = 1 - bit 0`` with ``x_raw`` = bits 1-7, ``y_raw`` = bits 8-14), as did Tonic's
CIFAR10DVS loader while it read the ``.aedat`` files, before Tonic re-released the dataset as
``.aedat4``. SpikingJelly keeps jAER's DVS128 decoding (:data:`DVS128_LAYOUT`, which its comment
says matches the dataset authors' ``dat2mat.m``) commented out in favour of this one, pointing to
events-tfds pull request 1 for the orientation problem. Chosen so that a model sees the
``.aedat`` and the ``.aedat4`` release of a recording the same way, assuming Tonic's conversion
kept its reader's orientation. **Unverified here**: no CIFAR10-DVS recording (either release)
is in the shared data, so neither the orientation nor the absence of other address bits has
been checked on a real file (bits outside the layout raise EventCoordinateError, so a file that
differs fails loudly rather than silently)."""


@dataclass(frozen=True)
class Aedat2Header:
    """What an AEDAT 2.0 header tells (it has no event count: ``n_events`` comes from the size).

    Attributes:
        path: the file.
        version: format version from the first line (2.0).
        data_start: byte offset of the first event.
        n_events: ``(file size - data_start) / 8``; the size is checked to be a whole number
            of events.
        creation_time_ms: the ``# Creation time: System.currentTimeMillis()`` wall clock (ms
            since 1970; Tonic's docstring calls it µs), or None.
        chip: the ``# AEChip:`` Java class (e.g. ``ch.unizh.ini.jaer.chip.retina.DVS128``), or None.
        end_marker: whether the header ends with jAER's ``#End Of ASCII Header`` line (recent
            jAER versions write it; MATLAB's ``saveaerdat.m``, used for CIFAR10-DVS, does not).
    """

    path: Path
    version: float
    data_start: int
    n_events: int
    creation_time_ms: int | None
    chip: str | None
    end_marker: bool


_CHIP_LINE = re.compile(rb"^# ?AEChip: *(\S+)", re.MULTILINE)


def _check_first_line(path: Path) -> None:
    with path.open("rb") as f:
        first = f.readline(64)
    if not first.startswith(b"#!AER-DAT"):
        raise CorruptRecordingError(
            f"{path}: not an AEDAT file (the first line must start with '#!AER-DAT', "
            f"got {first[:20]!r})"
        )


def read_aedat2_header(path: str | Path) -> Aedat2Header:
    """Read and check the header of an AEDAT 2.0 file.

    Raises:
        FileNotFoundError: the file does not exist.
        EmptyRecordingError: 0 bytes, or a header and no events.
        CorruptRecordingError: not AEDAT (no ``#!AER-DAT`` first line), not version 2.x, or
            the data after the header is not a whole number of 8-byte events (last event
            truncated).
    """
    from tonic.io import read_aedat_header_from_file

    path, size = event_file_size(path)
    _check_first_line(path)
    try:
        version, data_start, creation_ms = read_aedat_header_from_file(str(path))
    except (ValueError, IndexError) as exc:
        raise CorruptRecordingError(f"{path}: unreadable AEDAT header ({exc})") from exc
    if not 2 <= version < 3:
        raise CorruptRecordingError(
            f"{path}: AEDAT {version} file; this reader reads AEDAT 2.x only "
            "(AEDAT 4 files: eventsnn.io.read_aedat4_events)"
        )
    with path.open("rb") as f:
        header = f.read(data_start)
    if not header.endswith(b"\n"):
        # Tonic stops one byte short when the header runs to the end of the file.
        data_start = size
        with path.open("rb") as f:
            header = f.read()
    n_bytes = size - data_start
    if n_bytes == 0:
        raise EmptyRecordingError(f"{path}: AEDAT {version} header ({size} bytes) and no events")
    n_events = check_whole_records(path, n_bytes, EVENT_BYTES, f"after the {data_start}-byte header")
    chip = _CHIP_LINE.search(header)
    return Aedat2Header(
        path=path,
        version=float(version),
        data_start=data_start,
        n_events=n_events,
        creation_time_ms=creation_ms,
        chip=chip.group(1).decode("ascii", "replace") if chip else None,
        end_marker=b"#End Of ASCII Header" in header,
    )


def unwrap_timestamps(t: np.ndarray, name: str = "events") -> np.ndarray:
    """Undo the wrap-arounds of 32-bit µs timestamps; return them as int64.

    A drop by more than half the range (2**31 µs, 35.8 min) between consecutive events is a
    wrap-around (the clock passed 2**32 - 1 and restarted at 0); 2**32 is added from there on.
    Any smaller drop is a timestamp going backwards.

    Raises:
        TimestampError: a timestamp smaller than the previous one that is not a wrap-around.
    """
    t = np.asarray(t).astype(np.int64)
    if len(t) < 2:
        return t
    step = np.diff(t)
    back = np.flatnonzero((step < 0) & (step >= -(TIMESTAMP_RANGE // 2)))
    if len(back):
        i = int(back[0])
        raise TimestampError(
            f"{name}: timestamps go backwards: event {i + 1} at {int(t[i + 1])} µs comes after "
            f"{int(t[i])} µs ({len(back)} decreasing step(s), not 32-bit wrap-arounds)"
        )
    wraps = step < -(TIMESTAMP_RANGE // 2)
    if wraps.any():
        t[1:] += TIMESTAMP_RANGE * np.cumsum(wraps)
    return t


def _pixel_events(addr: np.ndarray, layout: AddressLayout, header: Aedat2Header) -> np.ndarray:
    """Mask of the pixel events in ``addr``; raises on bits outside the layout."""
    a = addr.astype(np.int64)
    special = (a & layout.special_mask) != 0
    stray = ~special & ((a & ~layout.pixel_mask) != 0)
    if stray.any():
        i = int(np.flatnonzero(stray)[0])
        raise EventCoordinateError(
            f"{header.path}: event {i} has address 0x{int(a[i]):08x} with bits outside the "
            f"sensor's address layout (pixel bits 0x{layout.pixel_mask:08x}, special "
            f"0x{layout.special_mask:08x}); {int(stray.sum())} such event(s); "
            f"AEChip: {header.chip or 'not given'}"
        )
    return ~special


def read_aedat2_events(
    path: str | Path,
    sensor_size: SensorSize = DVS128_SENSOR_SIZE,
    layout: AddressLayout = DVS128_LAYOUT,
) -> np.ndarray:
    """Read the pixel events of an AEDAT 2.0 file as :data:`eventsnn.events.EVENT_DTYPE`.

    ``t`` is in µs, unwrapped (:func:`unwrap_timestamps`) and shifted to start at 0 at the first
    pixel event; ``x, y, p`` decoded with ``layout`` (default: jAER's DVS128). Special events
    (bits in ``layout.special_mask``) are dropped.

    Raises:
        FileNotFoundError, EmptyRecordingError, CorruptRecordingError: see
            :func:`read_aedat2_header`; also EmptyRecordingError when only special events.
        TimestampError: timestamps go backwards (other than a 32-bit wrap-around).
        EventCoordinateError: address bits outside ``layout``, or x/y outside ``sensor_size``.
    """
    from tonic.io import get_aer_events_from_file

    header = read_aedat2_header(path)
    raw = get_aer_events_from_file(str(header.path), header.version, header.data_start)
    if len(raw) != header.n_events:
        raise CorruptRecordingError(
            f"{header.path}: read {len(raw)} events, expected {header.n_events} from the file size"
        )
    name = str(header.path)
    t = unwrap_timestamps(raw["timeStamp"], name)
    pixel = _pixel_events(raw["address"], layout, header)
    if not pixel.any():
        raise EmptyRecordingError(f"{name}: {len(raw)} special event(s) and no pixel events")
    t = t[pixel]
    x, y, p = layout.decode(raw["address"][pixel])
    return validate_events(make_events(x, y, t - t[0], p), sensor_size, name=name)
