"""Exceptions raised by eventsnn.

Every problem with user input raises a subclass of :class:`EventsnnError` whose message names
the file, sample or argument at fault. The command line turns these into one line on stderr and
a non-zero exit status.
"""

from __future__ import annotations


class EventsnnError(Exception):
    """Base class of every error eventsnn raises on bad input."""


class DatasetNotFoundError(EventsnnError, FileNotFoundError):
    """A dataset folder, or the files expected inside it, are missing."""


class CorruptRecordingError(EventsnnError, ValueError):
    """An event file is truncated or its contents cannot be decoded."""


class EmptyRecordingError(EventsnnError, ValueError):
    """An event file holds no events."""


class EventFormatError(EventsnnError, TypeError):
    """An event array has the wrong dtype, missing fields or the wrong shape."""


class EventCoordinateError(EventsnnError, ValueError):
    """Event coordinates or polarities lie outside the sensor."""


class TimestampError(EventsnnError, ValueError):
    """Timestamps are negative or not sorted in time."""


class InvalidParameterError(EventsnnError, ValueError):
    """A parameter (time steps, ratio, factor, ...) is out of its valid range."""


class CheckpointError(EventsnnError, ValueError):
    """A checkpoint or compressed dataset file is missing, corrupt or of the wrong kind."""


class CompressedFileError(EventsnnError, ValueError):
    """A compressed (HDF5) dataset file is truncated, corrupt or not an eventsnn file."""


class OutputExistsError(EventsnnError, FileExistsError):
    """A command would replace earlier results (a file or a run folder) without being asked to."""


class OutputPathError(EventsnnError, OSError):
    """An output path cannot be written: it is a folder where a file is expected (or the reverse),
    lies under a regular file, or its folder cannot be created."""
