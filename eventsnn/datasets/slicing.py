"""Long labelled recordings cut into samples (windows), and windows' votes back to recordings.

A :class:`SlicedRecordings` wraps any :class:`~eventsnn.datasets.base.EventDataset` whose
samples are long recordings and exposes one sample per window, cut by :class:`TimeWindows` or
:class:`EventCountWindows`. The window arithmetic is Tonic's (:class:`tonic.slicers.SliceByTime`,
:class:`tonic.slicers.SliceByEventCount`), with three corrections on top:

1. ``SliceByTime`` takes the last event's timestamp as the (exclusive) end of the recording.
   With half-open windows ``[start, start + window)`` the last event then never belongs to a
   complete window, and with ``include_incomplete=True`` it belongs to no window at all when
   ``t[-1] - t[0] - window`` is a multiple of the stride: ``t = [0, 100, 200]``,
   ``SliceByTime(100, include_incomplete=True)`` gives ``[(0, 1), (1, 2)]`` and the event at
   200 µs is lost. Integer µs timestamps end at ``t[-1] + 1``; that end is passed to Tonic.
2. A recording shorter than one window (or than one event count) gives one incomplete window
   even with ``include_incomplete=False`` (Tonic's ``max(n_slices, 1)``); it gives none here.
3. An empty recording raises ``IndexError`` in ``SliceByTime`` and gives one empty window in
   ``SliceByEventCount``; it gives no window here.

Guarantee (tested): with ``stride == window`` every event of a recording lies in exactly one
window, except the events after the last complete window, which form one final partial window
when ``include_incomplete=True`` and lie in no window otherwise. Windows with fewer than
``min_events`` events (default 1: empty stretches) are dropped afterwards.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tonic.slicers import SliceByEventCount, SliceByTime

from eventsnn.datasets.base import EventDataset
from eventsnn.errors import InvalidParameterError

__all__ = [
    "EventCountWindows",
    "RecordingVotes",
    "SlicedRecordings",
    "TimeWindows",
    "WindowSpans",
    "majority_vote",
    "format_recording_table",
    "recording_table",
]


@dataclass(frozen=True)
class WindowSpans:
    """The windows of one recording: event index ranges ``[start, stop)`` and time spans.

    ``t_start``/``t_end`` (µs, in the recording's time) are half-open: a time window's nominal
    span ``[t0 + k * stride, t0 + k * stride + window)`` (also for a final partial window); an
    event-count window's ``[t of its first event, t of its last event + 1)``.
    """

    start: np.ndarray
    stop: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def keep(self, mask: np.ndarray) -> WindowSpans:
        return WindowSpans(self.start[mask], self.stop[mask], self.t_start[mask], self.t_end[mask])


def _no_windows() -> WindowSpans:
    empty = np.zeros(0, dtype=np.int64)
    return WindowSpans(empty, empty, empty, empty)


def _concat(parts: Sequence[WindowSpans]) -> WindowSpans:
    fields = ("start", "stop", "t_start", "t_end")
    empty = _no_windows()
    return WindowSpans(*(np.concatenate([getattr(w, f) for w in (*parts, empty)]) for f in fields))


def _check_window(window: int, stride: int | None, what: str) -> int:
    if window <= 0:
        raise InvalidParameterError(f"{what} must be positive, got {window}")
    stride = window if stride is None else stride
    if not 0 < stride <= window:
        raise InvalidParameterError(
            f"stride must be in (0, {what}] = (0, {window}], got {stride} "
            "(stride < window: overlapping windows; stride == window: a partition)"
        )
    return stride


@dataclass(frozen=True)
class TimeWindows:
    """Windows of ``window_us`` µs every ``stride_us`` µs (default: ``window_us``, no overlap).

    Windows are half-open ``[t0 + k * stride_us, t0 + k * stride_us + window_us)``, ``t0`` the
    recording's first event. A window is complete when the recording lasts to its end: the last
    event is at or after the window's last microsecond (``end - 1``). ``include_incomplete``
    also keeps the first window that reaches past the last event (so every event lies in some
    window); otherwise the events after the last complete window lie in none.
    """

    window_us: int = 300_000
    stride_us: int | None = None
    include_incomplete: bool = False

    def __post_init__(self) -> None:
        _check_window(self.window_us, self.stride_us, "window_us")

    @property
    def stride(self) -> int:
        return self.window_us if self.stride_us is None else self.stride_us

    def spans(self, t: np.ndarray) -> WindowSpans:
        """Windows of a recording with sorted timestamps ``t`` (µs)."""
        t = np.asarray(t)
        if len(t) == 0:
            return _no_windows()
        t0, t_stop = int(t[0]), int(t[-1]) + 1  # correction 1: integer µs end after t[-1]
        if not self.include_incomplete and t_stop - t0 < self.window_us:
            return _no_windows()  # correction 2
        slicer = SliceByTime(
            time_window=self.window_us,
            overlap=self.window_us - self.stride,
            include_incomplete=self.include_incomplete,
            start_time=t0,
            end_time=t_stop,
        )
        meta = np.asarray(slicer.get_slice_metadata(np.rec.fromarrays([t], names="t"), None))
        t_start = t0 + np.arange(len(meta), dtype=np.int64) * self.stride
        return WindowSpans(
            meta[:, 0].astype(np.int64), meta[:, 1].astype(np.int64),
            t_start, t_start + self.window_us,
        )


@dataclass(frozen=True)
class EventCountWindows:
    """Windows of ``count`` consecutive events every ``stride`` events (default ``count``).

    ``include_incomplete`` keeps a final window of fewer than ``count`` events (the events
    after the last complete window).
    """

    count: int
    stride: int | None = None
    include_incomplete: bool = False

    def __post_init__(self) -> None:
        _check_window(self.count, self.stride, "count")

    def spans(self, t: np.ndarray) -> WindowSpans:
        """Windows of a recording with sorted timestamps ``t`` (µs)."""
        t = np.asarray(t)
        n = len(t)
        if n == 0 or (n < self.count and not self.include_incomplete):
            return _no_windows()  # corrections 2 and 3
        stride = self.count if self.stride is None else self.stride
        slicer = SliceByEventCount(
            event_count=self.count,
            overlap=self.count - stride,
            include_incomplete=self.include_incomplete,
        )
        meta = np.asarray(slicer.get_slice_metadata(np.rec.fromarrays([t], names="t"), None))
        start = meta[:, 0].astype(np.int64)
        stop = np.minimum(meta[:, 1], n).astype(np.int64)
        return WindowSpans(start, stop, t[start].astype(np.int64), t[stop - 1].astype(np.int64) + 1)


Slicer = TimeWindows | EventCountWindows


class SlicedRecordings(EventDataset):
    """One sample per window of the long recordings of ``source``.

    Each window ``i`` has a label ``targets[i]`` (its recording's), ``recordings[i]`` (the
    index of its recording in ``source``; ``groups`` is the same array, for group-wise splits),
    ``recording_ids[i]`` (a readable id: ``source.recording_ids`` when the source has them,
    else ``source.describe``), ``sessions[i]`` (when the source has a per-recording
    ``sessions`` list, else None) and ``t_start[i]``/``t_end[i]`` (µs, see :class:`WindowSpans`).

    ``dataset[i]`` is ``(transform(events), label)``; the window's events are a copy with ``t``
    measured from the window start (``relative_time=True``, so every sample starts near 0 µs
    like the samples of other datasets) or kept in the recording's time.

    Recordings are read with ``source.read`` (``source``'s own transform is not applied), once
    each at construction (to place the windows) and then through an in-memory LRU cache of
    ``cache_size`` decoded recordings, so reading the windows of one recording reads its file
    once (about 16 bytes per event: 5.6 MB for a 350k-event recording).

    Args:
        source: the long recordings (any :class:`EventDataset`).
        slicer: :class:`TimeWindows` (default: 300 ms, no overlap, partial last window
            dropped) or :class:`EventCountWindows`.
        min_events: windows with fewer events are dropped (default 1: only empty windows,
            e.g. a stretch where nothing moved; they carry no information and STC cannot
            compress them). 0 keeps every window.
        transform: applied to each window's events by ``dataset[i]`` (not by :meth:`read`).
        relative_time: measure ``t`` from the window start (default) or keep the recording's.
        recording_transform: applied once to each whole decoded recording before the windows
            are placed and cut (e.g. a causal
            :class:`~eventsnn.transforms.BackgroundActivityFilter`: every window then sees the
            filter state a live filter would have); part of :meth:`read`.
        window_transform: applied to the events of each window by :meth:`read` (after the cut
            and the time shift; e.g. :class:`~eventsnn.transforms.NormalizePosition`), so every
            consumer of ``read`` (STC, compression, evaluation) sees the same samples.
        cache_size: decoded recordings kept in memory (least recently used dropped first).
        progress: show a tqdm bar while the recordings are read to place the windows.
    """

    def __init__(
        self,
        source: EventDataset,
        slicer: Slicer | None = None,
        min_events: int = 1,
        transform: Callable[[np.ndarray], Any] | None = None,
        relative_time: bool = True,
        cache_size: int = 16,
        progress: bool = False,
        recording_transform: Callable[[np.ndarray], np.ndarray] | None = None,
        window_transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        super().__init__(source.split, transform)
        self.recording_transform = recording_transform
        self.window_transform = window_transform
        if min_events < 0:
            raise InvalidParameterError(f"min_events must be >= 0, got {min_events}")
        if cache_size < 1:
            raise InvalidParameterError(f"cache_size must be >= 1, got {cache_size}")
        self.source = source
        self.slicer = TimeWindows() if slicer is None else slicer
        self.min_events = min_events
        self.relative_time = relative_time
        self.cache_size = cache_size
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.name = f"{source.name}-windows"
        self.sensor_size = source.sensor_size
        self.classes = source.classes
        self._place_windows(progress)

    def _place_windows(self, progress: bool) -> None:
        from tqdm import tqdm

        parts: list[WindowSpans] = []
        for r in tqdm(range(len(self.source)), desc="slicing", disable=not progress):
            spans = self.slicer.spans(self.recording_events(r)["t"])
            parts.append(spans.keep(spans.stop - spans.start >= self.min_events))
        windows = _concat(parts)
        self.recordings = np.repeat(np.arange(len(parts), dtype=np.int64), [len(s) for s in parts])
        self.event_start, self.event_stop = windows.start, windows.stop
        self.t_start, self.t_end = windows.t_start, windows.t_end
        self.targets = [int(self.source.targets[r]) for r in self.recordings]
        ids = getattr(self.source, "recording_ids", None)
        names = [ids[r] if ids is not None else self.source.describe(r) for r in range(len(parts))]
        self.recording_ids = [names[r] for r in self.recordings]
        sessions = getattr(self.source, "sessions", None)
        self.sessions = None if sessions is None else [sessions[r] for r in self.recordings]

    @property
    def groups(self) -> np.ndarray:
        """The source recording of every window (same as ``recordings``)."""
        return self.recordings

    def windows_of(self, recording: int) -> np.ndarray:
        """Indices of the windows cut from source recording ``recording``."""
        return np.flatnonzero(self.recordings == recording)

    def recording_events(self, recording: int) -> np.ndarray:
        """The whole decoded recording, after ``recording_transform`` (cached; do not modify it)."""
        ev = self._cache.get(recording)
        if ev is None:
            ev = self.source.read(recording)
            if self.recording_transform is not None:
                ev = self.recording_transform(ev)
            self._cache[recording] = ev
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(recording)
        return ev

    def read(self, index: int) -> np.ndarray:
        ev = self.recording_events(int(self.recordings[index]))
        window = ev[self.event_start[index]:self.event_stop[index]].copy()
        if self.relative_time:
            window["t"] -= self.t_start[index]
        return window if self.window_transform is None else self.window_transform(window)

    def describe(self, index: int) -> str:
        return (
            f"{self.recording_ids[index]} [{int(self.t_start[index])}, "
            f"{int(self.t_end[index])}) µs"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.source!r}, {self.slicer}, min_events={self.min_events}: "
            f"{len(self)} windows)"
        )


@dataclass(frozen=True)
class RecordingVotes:
    """Per-recording decisions from per-window predictions.

    Attributes:
        recordings: the recordings that have windows, sorted, ``[R]``.
        votes: window votes per recording and class, ``[R, n_classes]``.
        predictions: the class with the most votes, ``[R]`` (ties: the lowest class index).
        targets: each recording's label ``[R]``, or None when no targets were given.
        accuracy: fraction of recordings whose prediction equals the target, or None.
    """

    recordings: np.ndarray
    votes: np.ndarray
    predictions: np.ndarray
    targets: np.ndarray | None
    accuracy: float | None


def majority_vote(
    predictions: Sequence[int] | np.ndarray,
    recordings: Sequence[int] | np.ndarray,
    n_classes: int,
    targets: Sequence[int] | np.ndarray | None = None,
) -> RecordingVotes:
    """Turn per-window class predictions into one prediction per recording.

    Each window votes for its predicted class; a recording's prediction is the class with the
    most votes, ties going to the lowest class index (``np.argmax``), so the result never
    depends on the order of the windows. ``targets`` are per-window labels (all windows of a
    recording must share one); with them the accuracy over recordings is computed.

    Raises:
        InvalidParameterError: lengths differ, empty input, a prediction outside
            ``0..n_classes-1``, or windows of one recording with different targets.
    """
    pred = np.asarray(predictions, dtype=np.int64).ravel()
    rec = np.asarray(recordings, dtype=np.int64).ravel()
    if len(pred) != len(rec) or len(pred) == 0:
        raise InvalidParameterError(
            f"majority_vote: need as many recordings as predictions (> 0), got {len(pred)} "
            f"predictions and {len(rec)} recordings"
        )
    if n_classes < 1 or pred.min() < 0 or pred.max() >= n_classes:
        raise InvalidParameterError(
            f"majority_vote: predictions range over [{pred.min()}, {pred.max()}], "
            f"expected 0..{n_classes - 1}"
        )
    ids, inverse = np.unique(rec, return_inverse=True)
    votes = np.zeros((len(ids), n_classes), dtype=np.int64)
    np.add.at(votes, (inverse, pred), 1)
    decided = votes.argmax(axis=1)
    if targets is None:
        return RecordingVotes(ids, votes, decided, None, None)
    tgt = np.asarray(targets, dtype=np.int64).ravel()
    if len(tgt) != len(pred):
        raise InvalidParameterError(
            f"majority_vote: {len(tgt)} targets for {len(pred)} predictions"
        )
    per_rec = np.full(len(ids), -1, dtype=np.int64)
    per_rec[inverse] = tgt
    mixed = np.flatnonzero(per_rec[inverse] != tgt)
    if len(mixed):
        i = int(mixed[0])
        raise InvalidParameterError(
            f"majority_vote: windows of recording {int(rec[i])} have different targets "
            f"({int(tgt[i])} and {int(per_rec[inverse[i]])})"
        )
    return RecordingVotes(ids, votes, decided, per_rec, float(np.mean(decided == per_rec)))


def recording_table(
    predictions: Sequence[int] | np.ndarray,
    recording_ids: Sequence[str],
    targets: Sequence[int] | np.ndarray,
    classes: Sequence[str],
) -> tuple[float, list[dict[str, Any]]]:
    """Accuracy per recording (majority vote over its windows, :func:`majority_vote`) and a row
    per recording, sorted by id: ``recording``, ``windows``, ``window_accuracy``, ``target``,
    ``prediction`` (class names), ``correct`` and ``votes`` (class name -> windows, classes
    with at least one vote).

    Returns:
        ``(fraction of recordings decided correctly, rows)``.
    """
    pred = np.asarray(predictions, dtype=np.int64).ravel()
    tgt = np.asarray(targets, dtype=np.int64).ravel()
    names, inverse = np.unique(np.asarray(recording_ids, dtype=str), return_inverse=True)
    votes = majority_vote(pred, inverse, len(classes), tgt)
    assert votes.targets is not None and votes.accuracy is not None
    rows = []
    for r, name in enumerate(names):
        mine = inverse == r
        rows.append({
            "recording": str(name), "windows": int(mine.sum()),
            "window_accuracy": float(np.mean(pred[mine] == tgt[mine])),
            "target": str(classes[int(votes.targets[r])]), "prediction": str(classes[int(votes.predictions[r])]),
            "correct": bool(votes.predictions[r] == votes.targets[r]),
            "votes": {str(classes[c]): int(v) for c, v in enumerate(votes.votes[r]) if v},
        })
    return float(votes.accuracy), rows


def format_recording_table(rows: Sequence[dict[str, Any]], accuracy: float) -> str:
    """The rows of :func:`recording_table` as text: one line per recording, then the total."""
    width = max([len(r["recording"]) for r in rows] + [9])
    lines = [f"  {'recording':<{width}}  windows  window acc  vote ({'majority of the windows'})"]
    for r in rows:
        lines.append(f"  {r['recording']:<{width}}  {r['windows']:>7}  {100 * r['window_accuracy']:>9.1f}%  "
                     f"{r['prediction']} ({'right' if r['correct'] else 'wrong, is ' + r['target']})")
    n_ok = sum(r["correct"] for r in rows)
    lines.append(f"  per recording (majority vote over its windows): {n_ok}/{len(rows)} = {100 * accuracy:.2f}%")
    return "\n".join(lines)
