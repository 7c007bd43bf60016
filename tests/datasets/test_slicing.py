"""Long recordings cut into windows (SlicedRecordings) and per-recording majority votes."""

from __future__ import annotations

import numpy as np
import pytest
from tonic.slicers import SliceByEventCount, SliceByTime

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.slicing import (
    EventCountWindows,
    SlicedRecordings,
    TimeWindows,
    majority_vote,
)
from eventsnn.errors import InvalidParameterError
from eventsnn.events import make_events


def recording(t) -> np.ndarray:
    t = np.asarray(t, dtype=np.int64)
    return make_events(t % 7, t % 5, t, t % 2)


def random_times(seed: int, n: int = 2000, t_max: int = 1_000_000) -> np.ndarray:
    """Sorted µs timestamps with repeats and a long empty stretch in the middle."""
    t = np.sort(np.random.default_rng(seed).integers(0, t_max, n))
    return t[(t < 0.4 * t_max) | (t > 0.6 * t_max)] + seed


class Recordings(EventDataset):
    """In-memory long recordings; counts the reads."""

    name = "fake"
    sensor_size = (7, 5, 2)
    classes = ("a", "b", "c")

    def __init__(self, times, targets, sessions=None):
        super().__init__("all")
        self.recs = [recording(t) for t in times]
        self.targets = list(targets)
        if sessions is not None:
            self.sessions = list(sessions)
        self.reads = [0] * len(self.recs)

    def read(self, index):
        self.reads[index] += 1
        return self.recs[index]


def coverage(spans, n: int) -> np.ndarray:
    """How many windows each of n events lies in."""
    hits = np.zeros(n + 1, dtype=np.int64)
    np.add.at(hits, spans.start, 1)
    np.add.at(hits, spans.stop, -1)
    return np.cumsum(hits)[:n]


def test_tonic_slicer_defects_and_the_corrections():
    """If these Tonic results change, Tonic changed its slicers: recheck the corrections."""
    t = np.array([0, 100, 200])
    data = np.rec.fromarrays([t], names="t")
    assert len(SliceByTime(100, include_incomplete=True).get_slice_metadata(data, 0)) == 2  # 200 lost
    assert coverage(TimeWindows(100, include_incomplete=True).spans(t), 3).tolist() == [1, 1, 1]
    assert len(SliceByTime(100).get_slice_metadata(data[:1], 0)) == 1  # shorter than a window
    assert len(TimeWindows(100).spans(t[:1])) == 0
    assert len(SliceByEventCount(5).get_slice_metadata(data, 0)) == 1  # 3 of 5 events
    assert len(EventCountWindows(5).spans(t)) == 0
    assert len(SliceByEventCount(5).get_slice_metadata(data[:0], 0)) == 1  # empty recording
    for slicer in (TimeWindows(100, include_incomplete=True), EventCountWindows(5, include_incomplete=True)):
        assert len(slicer.spans(t[:0])) == 0


def test_time_windows_are_half_open():
    t = np.arange(0, 1001, 50)  # every window of 100 µs holds exactly 2 events
    spans = TimeWindows(100).spans(t)  # the event at 1000 µs starts an incomplete window
    assert len(spans) == 10 and np.all(spans.stop - spans.start == 2) and spans.stop[-1] == 20
    assert spans.t_start.tolist() == list(range(0, 1000, 100))
    assert np.array_equal(spans.t_end, spans.t_start + 100)
    every_us = TimeWindows(100).spans(np.arange(300))  # a fully covered last window is complete
    assert len(every_us) == 3 and every_us.stop[-1] == 300


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("window", [1_000, 30_000, 300_000])
def test_time_partition_keeps_every_event_once(seed, window):
    t = random_times(seed)
    keep = TimeWindows(window, include_incomplete=True).spans(t)
    assert np.all(coverage(keep, len(t)) == 1)
    drop = TimeWindows(window).spans(t)
    assert len(drop) == len(keep) - 1 and np.array_equal(drop.start, keep.start[:-1])
    cover = coverage(drop, len(t))
    tail = t >= drop.t_end[-1]
    assert np.all(cover[~tail] == 1) and np.all(cover[tail] == 0)
    assert t[-1] + 1 - drop.t_end[-1] < window  # what is dropped is shorter than a window
    for s in (drop, keep):  # each window is exactly the events of its time span
        for i in range(0, len(s), max(1, len(s) // 20)):
            inside = np.flatnonzero((t >= s.t_start[i]) & (t < s.t_end[i]))
            assert np.array_equal(inside, np.arange(s.start[i], s.stop[i]))


@pytest.mark.parametrize("include_incomplete", [False, True])
def test_overlapping_time_windows(include_incomplete):
    t = random_times(3)
    s = TimeWindows(300_000, stride_us=100_000, include_incomplete=include_incomplete).spans(t)
    assert np.all(np.diff(s.t_start) == 100_000) and np.all(s.t_end - s.t_start == 300_000)
    assert s.t_start[0] == t[0]
    for i in range(len(s)):
        inside = np.flatnonzero((t >= s.t_start[i]) & (t < s.t_end[i]))
        assert np.array_equal(inside, np.arange(s.start[i], s.stop[i]))
    assert (s.t_end[-1] > t[-1]) == include_incomplete
    assert s.t_end[-1] - 100_000 <= t[-1]  # no window past the one that covers the last event


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2500])
def test_event_count_partition(n):
    t = np.arange(n) * 3
    keep = EventCountWindows(250, include_incomplete=True).spans(t)
    drop = EventCountWindows(250).spans(t)
    assert np.all(coverage(keep, n) == 1)
    assert len(drop) == n // 250 and np.all(drop.stop - drop.start == 250)
    assert np.array_equal(coverage(drop, n), np.arange(n) < 250 * (n // 250))
    if n:
        assert keep.t_start[0] == 0 and keep.t_end[-1] == t[-1] + 1
        assert np.all(keep.stop - keep.start <= 250) and len(keep) == -(-n // 250)


def test_overlapping_event_count_windows():
    t = np.arange(1000)
    s = EventCountWindows(100, stride=30).spans(t)
    assert np.all(np.diff(s.start) == 30) and np.all(s.stop - s.start == 100)
    assert s.stop[-1] <= 1000 < s.stop[-1] + 30
    s = EventCountWindows(100, stride=30, include_incomplete=True).spans(t)
    assert s.stop[-1] == 1000 and s.stop[-2] < 1000 and np.all(coverage(s, 1000) >= 1)


def test_invalid_windows():
    with pytest.raises(InvalidParameterError, match="window_us must be positive"):
        TimeWindows(0)
    with pytest.raises(InvalidParameterError, match="stride"):
        TimeWindows(100, stride_us=200)
    with pytest.raises(InvalidParameterError, match="stride"):
        EventCountWindows(100, stride=0)


@pytest.fixture
def source():
    times = [random_times(0), np.arange(0, 450_000, 10), [5, 6, 7]]
    return Recordings(times, [2, 0, 1], sessions=["s1", "s1", "s2"])


def test_sliced_recordings_metadata(source):
    ds = SlicedRecordings(source, TimeWindows(100_000))
    per_rec = [len(TimeWindows(100_000).spans(r["t"])) for r in source.recs]
    assert per_rec == [9, 4, 0]  # recording 0 has no events in [400, 600] ms: ...
    assert len(ds) == 9 - 2 + 4  # ... its windows [400, 500) and [500, 600) ms are dropped
    assert np.array_equal(ds.groups, ds.recordings) and set(ds.recordings) == {0, 1}
    assert ds.targets == [source.targets[r] for r in ds.recordings]
    assert ds.sessions == ["s1"] * len(ds)
    assert ds.recording_ids[-1] == "fake[all][1]" and ds.describe(len(ds) - 1) == "fake[all][1] [300000, 400000) µs"
    assert ds.sensor_size == source.sensor_size and ds.classes == source.classes
    assert ds.windows_of(1).tolist() == list(range(len(ds) - 4, len(ds)))
    kept_empty = SlicedRecordings(source, TimeWindows(100_000), min_events=0)
    assert len(kept_empty) == 13 and (kept_empty.event_stop - kept_empty.event_start).min() == 0
    dense = SlicedRecordings(source, TimeWindows(100_000), min_events=10_000)
    assert set(dense.recordings) == {1}


def test_sliced_recordings_read_windows(source):
    ds = SlicedRecordings(source, TimeWindows(100_000, stride_us=50_000))
    ev, label = ds[len(ds) - 1]
    r, t0 = ds.recordings[-1], ds.t_start[-1]
    full = source.recs[r]
    expected = full[(full["t"] >= t0) & (full["t"] < t0 + 100_000)]
    assert label == source.targets[r] and np.array_equal(ev["x"], expected["x"])
    assert np.array_equal(ev["t"], expected["t"] - t0) and ev["t"].min() >= 0
    assert full["t"][0] == 0  # reading a window did not shift the cached recording
    absolute = SlicedRecordings(source, TimeWindows(100_000), relative_time=False)
    assert np.array_equal(absolute.read(len(absolute) - 1)["t"], full["t"][30_000:40_000])


def test_sliced_recordings_read_each_file_once(source):
    ds = SlicedRecordings(source, TimeWindows(20_000))
    assert source.reads == [1, 1, 1]
    for i in range(len(ds)):
        ds.read(i)
    assert source.reads == [1, 1, 1]
    small = SlicedRecordings(source, TimeWindows(20_000), cache_size=1)
    first, last = small.windows_of(0)[0], small.windows_of(1)[0]
    for i in (first, last, first):
        small.read(i)
    assert source.reads == [4, 3, 2]  # 2 at construction, then 0, 1, 0: all misses


def test_sliced_recordings_without_sessions():
    src = Recordings([np.arange(0, 1000, 10)], [1])
    ds = SlicedRecordings(src, EventCountWindows(30, include_incomplete=True), transform=len)
    assert ds.sessions is None and [ds[i] for i in range(len(ds))] == [(30, 1)] * 3 + [(10, 1)]
    with pytest.raises(InvalidParameterError, match="min_events"):
        SlicedRecordings(src, min_events=-1)


def test_majority_vote():
    pred = [0, 1, 1, 2, 1, 2, 1, 1]
    rec = [5, 5, 5, 3, 3, 3, 3, 9]  # 3 has a 2-2 tie between classes 1 and 2: lowest wins
    tgt = [1, 1, 1, 2, 2, 2, 2, 0]
    v = majority_vote(pred, rec, 3, tgt)
    assert v.recordings.tolist() == [3, 5, 9]
    assert v.votes.tolist() == [[0, 2, 2], [1, 2, 0], [0, 1, 0]]
    assert v.predictions.tolist() == [1, 1, 1] and v.targets.tolist() == [2, 1, 0]
    assert v.accuracy == pytest.approx(1 / 3)
    order = np.random.default_rng(0).permutation(len(pred))
    w = majority_vote(np.take(pred, order), np.take(rec, order), 3, np.take(tgt, order))
    assert np.array_equal(w.predictions, v.predictions) and w.accuracy == v.accuracy
    assert majority_vote(pred, rec, 3).accuracy is None


def test_majority_vote_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="different targets"):
        majority_vote([0, 0], [1, 1], 2, [0, 1])
    with pytest.raises(InvalidParameterError, match="expected 0..1"):
        majority_vote([0, 2], [1, 1], 2)
    with pytest.raises(InvalidParameterError, match="as many"):
        majority_vote([0, 1], [1], 2)
