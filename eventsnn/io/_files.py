"""Checks every event-file reader makes before decoding: the file exists, is a file, is not
empty, and its data is a whole number of fixed-size records."""

from __future__ import annotations

from pathlib import Path

from eventsnn.errors import CorruptRecordingError, EmptyRecordingError, EventFormatError


def event_file_size(path: str | Path) -> tuple[Path, int]:
    """``(path, size in bytes)`` of an existing, non-empty event file.

    Raises:
        FileNotFoundError: the file does not exist.
        EventFormatError: ``path`` is a folder.
        EmptyRecordingError: the file has 0 bytes.
    """
    path = Path(path)
    if path.is_dir():
        raise EventFormatError(f"{path}: is a directory; expected an event file")
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise EmptyRecordingError(f"{path}: empty event file (0 bytes)")
    return path, size


def check_whole_records(path: Path, n_bytes: int, record_bytes: int, after: str = "") -> int:
    """Number of ``record_bytes``-byte records in ``n_bytes`` of event data.

    ``after`` names what precedes the data (e.g. ``"after the 3412-byte header"``) in the message.

    Raises:
        CorruptRecordingError: ``n_bytes`` is not a multiple of ``record_bytes``: the file was
            cut inside its last event (a cut at an event boundary cannot be seen this way).
    """
    if n_bytes % record_bytes:
        where = f" {after}" if after else ""
        raise CorruptRecordingError(
            f"{path}: {n_bytes} bytes of events{where} is not a multiple of {record_bytes} "
            f"(one event): the file is truncated inside its last event"
        )
    return n_bytes // record_bytes
