"""The split-by-recording rule: windows of one long recording never land on both sides of a
split, through any of the normal APIs (registered dataset, hold-out, session, compressed file),
and a training run's validation windows are rebuilt exactly."""

from __future__ import annotations

import inspect
from collections import Counter

import h5py
import numpy as np
import pytest
from _dvs128objects import RECORDINGS

from eventsnn.datasets import (
    DATASETS,
    CompressedDataset,
    compress_dataset,
    file_training_splits,
    get_dataset,
    hold_out,
    open_split,
    recorded_holdout,
    training_splits,
)
from eventsnn.datasets.dvs128objects import CLASSES, object_windows
from eventsnn.datasets.selection import checkpoint_split, recording_split, session_split
from eventsnn.datasets.splits import group_split
from eventsnn.errors import InvalidParameterError
from eventsnn.transforms import STC

WINDOW = 300_000


def _recordings(part) -> set[str]:
    ds, idx = part
    return {ds.recording_ids[int(i)] for i in idx}


def test_registered_with_its_options():
    spec = DATASETS["dvs128objects"]
    assert spec.sensor_size == (128, 128, 2) and spec.n_classes == len(CLASSES) == 7 and spec.splits == ("all",)
    defaults = {k: p.default for k, p in inspect.signature(object_windows).parameters.items() if k in spec.options}
    assert defaults == dict(spec.options)  # the registry's copy of the defaults is the function's
    assert spec.resolve_options({"window_us": 200_000})["window_us"] == 200_000
    with pytest.raises(InvalidParameterError, match=r"unknown dataset option\(s\) \['window'\]; valid: window_us"):
        spec.resolve_options({"window": 3})
    with pytest.raises(InvalidParameterError, match="unknown dataset option"):
        DATASETS["nmnist"].resolve_options({"window_us": 3})
    for bad, match in (({"train_stride_us": 400_000}, "must be <= window_us"), ({"window_us": 10}, "window_us"),
                       ({"normalize": "spin"}, "mode must be one of")):
        with pytest.raises(InvalidParameterError, match=match):
            get_dataset("dvs128objects", None, "all", **bad)


def test_hold_out_takes_whole_recordings_for_every_seed_and_fraction():
    ds, idx = open_split("dvs128objects", None, "all")
    for seed in range(6):
        for fraction in (0.1, 0.3, 0.5):
            keep, hold = hold_out(ds, idx, fraction, seed)
            kept = {ds.recording_ids[i] for i in idx[keep]}
            held = {ds.recording_ids[i] for i in idx[hold]}
            assert held and kept and not kept & held and len(keep) + len(hold) == len(idx)
            # stratified by class where possible: a class with one recording always trains
            by_class = Counter(r.split("/")[1] for r in RECORDINGS)
            assert all(by_class[r.split("/")[1]] > 1 for r in held)
    held = [_recordings((ds, idx[hold_out(ds, idx, 0.1, s)[1]])) for s in range(6)]
    assert len({tuple(sorted(h)) for h in held}) > 1  # the seed chooses the recordings
    assert held[0] == _recordings((ds, idx[hold_out(ds, idx, 0.1, 0)[1]]))


def test_training_splits_by_recording_overlap_only_in_training():
    s = training_splits("dvs128objects", None, None, "auto", 0.1, 0)
    assert s.record["kind"] == "holdout" and s.train_split == "all"
    assert not _recordings(s.train) & _recordings(s.val)
    assert sorted(_recordings(s.val)) == s.record["recordings"] and len(s.record["recordings"]) == 3
    assert _recordings(s.train) | _recordings(s.val) == {r.removesuffix(".aedat") for r in RECORDINGS}
    train_ds, tidx = s.train
    val_ds, vidx = s.val
    for ds, idx, stride in ((train_ds, tidx, 50_000), (val_ds, vidx, WINDOW)):  # training windows overlap
        for r in set(ds.recordings[idx]):
            starts = ds.t_start[idx][ds.recordings[idx] == r]
            assert np.all(np.diff(starts) == stride)
    n_train = sum((RECORDINGS[r + ".aedat"][1] + 1 - WINDOW) // 50_000 + 1 for r in _recordings(s.train))
    assert len(tidx) == n_train


def test_leave_one_session_out():
    s = training_splits("dvs128objects", None, None, "session:DataSet")
    assert s.record["kind"] == "session" and s.record["session"] == "DataSet" and s.record["n_split"] == 695
    assert _recordings(s.val) == {r.removesuffix(".aedat") for r in RECORDINGS if r.startswith("DataSet/")}
    assert _recordings(s.train) == {r.removesuffix(".aedat") for r in RECORDINGS if r.startswith("DataSet2/")}
    assert len(s.val[1]) == 73 + 56 + 58 + 77
    ds, idx = s.val
    with pytest.raises(InvalidParameterError, match=r"session 'DataSet3'.*no sample.*sessions: DataSet, DataSet2"):
        session_split(ds, np.arange(len(ds)), "DataSet3")
    with pytest.raises(InvalidParameterError, match="none is left to train on"):
        session_split(ds, idx, "DataSet")
    nmnist, nidx = open_split("nmnist", None, "train", limit=20)
    with pytest.raises(InvalidParameterError, match="carry no session"):
        session_split(nmnist, nidx, "DataSet")


def test_leave_one_recording_out_and_rebuild_its_windows():
    ds, idx = open_split("dvs128objects", None, "all")
    ids = np.asarray(ds.recording_ids)[idx]
    for rid in ("DataSet2/mug/Caneca", "DataSet/mouse/Mouse_1"):
        keep, hold = recording_split(ds, idx, rid)
        assert not set(keep) & set(hold) and len(keep) + len(hold) == len(idx)
        assert np.array_equal(hold, np.flatnonzero(ids == rid))  # exactly that recording's windows
        assert rid not in set(ids[keep]) and len(set(ids[keep])) == 10
    n_events, duration = RECORDINGS["DataSet2/mug/Caneca.aedat"]
    s = training_splits("dvs128objects", None, None, "recording:DataSet2/mug/Caneca")
    assert s.record["kind"] == "recording" and s.record["recording"] == "DataSet2/mug/Caneca"
    assert s.record["recordings"] == ["DataSet2/mug/Caneca"] and len(s.val[1]) == duration // WINDOW == 68
    assert "DataSet2/mug/Caneca" not in _recordings(s.train) and len(_recordings(s.train)) == 10
    _, vidx, _ = checkpoint_split({"source": "dataset", "dataset": "dvs128objects", "val": s.record}, split="val")
    assert np.array_equal(vidx, s.val[1])  # eval --split val rebuilds the same windows
    with pytest.raises(InvalidParameterError, match=r"recording 'DataSet2/mug/caneca'.*no sample.*"
                                                    r"recordings: DataSet/box/caixa, .*DataSet2/mug/Caneca, "):
        training_splits("dvs128objects", None, None, "recording:DataSet2/mug/caneca")
    with pytest.raises(InvalidParameterError, match="none is left to train on"):
        recording_split(ds, idx[hold], "DataSet/mouse/Mouse_1")
    nmnist, nidx = open_split("nmnist", None, "train", limit=20)
    with pytest.raises(InvalidParameterError, match="carry no recording"):
        recording_split(nmnist, nidx, "DataSet/box/caixa")


def test_the_validation_windows_are_rebuilt_and_checked():
    s = training_splits("dvs128objects", None, None, "auto", 0.1, 1)
    ds, idx = open_split("dvs128objects", None, "all")
    again = recorded_holdout(idx, s.record, "dvs128objects", ds)
    assert np.array_equal(again, s.val[1])
    other = dict(s.record, recordings=["DataSet/box/caixa"])
    with pytest.raises(InvalidParameterError, match="validated on windows of"):
        recorded_holdout(idx, other, "dvs128objects", ds)


def test_group_split_refuses_mixed_labels():
    keep, hold = group_split([0, 0, 1, 1, 0, 0], [7, 7, 8, 8, 9, 9], 0.5, 0)
    assert sorted(np.concatenate([keep, hold]).tolist()) == list(range(6))
    assert {(i // 2) for i in hold} in ({0}, {2})  # one of the two class-0 groups, whole
    with pytest.raises(InvalidParameterError, match="group 7 carry different labels"):
        group_split([0, 1], [7, 7], 0.5, 0)


def test_hdf5_keeps_recording_and_session_and_splits_by_them(tmp_path):
    path = compress_dataset("dvs128objects", tmp_path / "objects.h5", STC((128, 128, 2), 1, spatial_factor=4),
                            limit=120, progress=False)
    windows, idx = open_split("dvs128objects", None, "all", limit=120)
    f = CompressedDataset(path, "all")
    assert f.recording_ids == [windows.recording_ids[int(i)] for i in idx]
    assert f.sessions == [windows.sessions[int(i)] for i in idx]
    assert len(set(f.groups.tolist())) == 11
    s = file_training_splits(path, None, "auto", 0.2, 0)
    assert not _recordings(s.train) & _recordings(s.val) and s.record["recordings"]
    s = file_training_splits(path, None, "session:DataSet2")
    assert {f.sessions[int(i)] for i in s.val[1]} == {"DataSet2"}
    assert {f.sessions[int(i)] for i in s.train[1]} == {"DataSet"}
    with h5py.File(path, "a") as h:  # a file written before the columns existed reads as before
        del h["recording"], h["session"]
    old = CompressedDataset(path, "all")
    assert old.recording_ids is None and old.sessions is None and old.groups is None and len(old) == 120
