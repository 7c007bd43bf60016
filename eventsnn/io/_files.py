"""Checks every event-file reader makes before decoding."""

from __future__ import annotations

from pathlib import Path

from eventsnn.errors import EmptyRecordingError


def event_file_size(path: str | Path) -> tuple[Path, int]:
    """``(path, size in bytes)`` of an existing, non-empty event file.

    Raises:
        FileNotFoundError: the file does not exist.
        EmptyRecordingError: the file has 0 bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise EmptyRecordingError(f"{path}: empty event file (0 bytes)")
    return path, size
