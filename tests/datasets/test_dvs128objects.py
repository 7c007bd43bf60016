"""DVS128Objects: the 11 real long recordings, by session and class, and their 300 ms windows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _dvs128objects import RECORDINGS

from eventsnn.cli import build_parser
from eventsnn.cli.train import config_from_args
from eventsnn.datasets import training_splits
from eventsnn.datasets.dvs128objects import CLASSES, DVS128Objects, class_selection, object_windows
from eventsnn.datasets.slicing import SlicedRecordings, TimeWindows, majority_vote
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.train.config import TrainConfig, resolve_config

WINDOW = 300_000


@pytest.fixture(scope="module")
def objects(data_dir) -> DVS128Objects:
    return DVS128Objects(data_dir)


@pytest.fixture(scope="module")
def windows(objects) -> SlicedRecordings:
    return SlicedRecordings(objects)


def complete_windows(rel: str) -> int:
    """300 ms windows that fit in a recording lasting from 0 to its last event (inclusive)."""
    return (RECORDINGS[rel][1] + 1) // WINDOW


def test_lists_the_recordings(objects, data_dir):
    assert len(objects) == 11 and objects.classes == CLASSES and objects.sensor_size == (128, 128, 2)
    rel = [str(Path(f).relative_to(data_dir / "DVS128Objects")) for f in objects.files]
    assert sorted(rel) == sorted(RECORDINGS) and rel[0] == "DataSet/box/caixa.aedat"
    assert Counter(objects.sessions) == {"DataSet": 4, "DataSet2": 7}
    assert Counter(CLASSES[t] for t in objects.targets) == {
        "box": 2, "box_cutter": 1, "cellphone": 1, "mech_pencil": 1, "mouse": 3, "mug": 1, "scissors": 2,
    }
    assert {CLASSES[t] for t, s in zip(objects.targets, objects.sessions, strict=True) if s == "DataSet2"} == set(CLASSES)
    for f, t, s, rid in zip(objects.files, objects.targets, objects.sessions, objects.recording_ids, strict=True):
        assert Path(f).parts[-3:-1] == (s, CLASSES[t]) and rid == f"{s}/{CLASSES[t]}/{Path(f).stem}"
    ev, label = objects[objects.recording_ids.index("DataSet2/mug/Caneca")]
    assert label == CLASSES.index("mug") and len(ev) == RECORDINGS["DataSet2/mug/Caneca.aedat"][0]


def test_session_selection_and_errors(data_dir, tmp_path):
    one = DVS128Objects(data_dir / "DVS128Objects", sessions=["DataSet"])
    assert len(one) == 4 and set(one.sessions) == {"DataSet"}
    with pytest.raises(DatasetNotFoundError, match="DataSet3; sessions found: DataSet, DataSet2"):
        DVS128Objects(data_dir, sessions=["DataSet3"])
    with pytest.raises(InvalidParameterError, match="split"):
        DVS128Objects(data_dir, split="train")
    with pytest.raises(DatasetNotFoundError, match=r"no folder .*DVS128Objects; expected <root>/DVS128Objects/<session>/<class>/\*\.aedat"):
        DVS128Objects(tmp_path)
    (tmp_path / "DVS128Objects" / "day1" / "caneca").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="unknown class folder .*caneca"):
        DVS128Objects(tmp_path)
    (tmp_path / "DVS128Objects" / "day1" / "caneca").rmdir()
    (tmp_path / "DVS128Objects" / "day1" / "mug").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no .aedat files"):
        DVS128Objects(tmp_path)
    real = data_dir / "DVS128Objects" / "DataSet2" / "mug" / "Caneca.aedat"
    (tmp_path / "DVS128Objects" / "day1" / "mug" / "a.aedat").symlink_to(real)
    mine = DVS128Objects(tmp_path)  # a session with one class only
    assert (mine.targets, mine.sessions, mine.recording_ids) == ([5], ["day1"], ["day1/mug/a"])


def test_windows_count_label_recording_and_session(objects, windows):
    per_recording = Counter(windows.recordings.tolist())
    for r, f in enumerate(objects.files):
        rel = "/".join(Path(f).parts[-3:])
        assert per_recording[r] == complete_windows(rel)
    assert len(windows) == sum(complete_windows(rel) for rel in RECORDINGS) == 695
    assert windows.targets == [objects.targets[r] for r in windows.recordings]
    assert windows.sessions == [objects.sessions[r] for r in windows.recordings]
    assert windows.recording_ids == [objects.recording_ids[r] for r in windows.recordings]
    assert Counter(windows.sessions) == {"DataSet": 73 + 56 + 58 + 77, "DataSet2": 431}
    by_class = Counter(CLASSES[t] for t in windows.targets)
    assert by_class == {"box": 134, "box_cutter": 61, "cellphone": 57, "mech_pencil": 61, "mouse": 175, "mug": 68, "scissors": 139}
    assert np.all(windows.t_end - windows.t_start == WINDOW)
    i = windows.recording_ids.index("DataSet2/cellphone/Celular") + 10
    ev, label = windows[i]
    full = objects.read(int(windows.recordings[i]))
    inside = full[(full["t"] >= 3_000_000) & (full["t"] < 3_300_000)]
    assert windows.t_start[i] == 3_000_000 and label == CLASSES.index("cellphone")
    assert np.array_equal(ev["t"], inside["t"] - 3_000_000) and np.array_equal(ev["x"], inside["x"])
    assert windows.describe(i) == "DataSet2/cellphone/Celular [3000000, 3300000) µs"


def test_real_recording_partition(objects):
    rel = "DataSet2/scissors/Tesoura.aedat"
    t = objects.read(objects.recording_ids.index("DataSet2/scissors/Tesoura"))["t"]
    keep = TimeWindows(WINDOW, include_incomplete=True).spans(t)
    assert len(keep) == complete_windows(rel) + 1
    assert keep.start[0] == 0 and keep.stop[-1] == len(t) == RECORDINGS[rel][0]
    assert np.array_equal(keep.start[1:], keep.stop[:-1])  # consecutive: each event once
    overlap = TimeWindows(WINDOW, stride_us=100_000).spans(t)
    assert np.all(np.diff(overlap.t_start) == 100_000)
    assert len(overlap) == (RECORDINGS[rel][1] + 1 - WINDOW) // 100_000 + 1


def test_majority_vote_over_real_windows(windows):
    """A window classifier right on 60 % of each recording's windows is right on every recording."""
    rng = np.random.default_rng(0)
    truth = np.asarray(windows.targets)
    wrong = rng.random(len(windows)) < 0.4
    pred = np.where(wrong, (truth + rng.integers(1, len(CLASSES), len(windows))) % len(CLASSES), truth)
    votes = majority_vote(pred, windows.recordings, len(CLASSES), windows.targets)
    assert len(votes.recordings) == 11 and votes.accuracy == 1.0
    assert np.mean(pred == truth) < 0.65


# --- the classes option: test on the classes two sessions share (protocol B) ---

SHARED = ("box", "mouse", "scissors")


def test_class_selection_takes_all_a_comma_list_or_names_in_class_order():
    assert class_selection("all") == CLASSES
    assert class_selection("scissors, box,mouse") == SHARED
    assert class_selection(["mouse", "box", "scissors"]) == SHARED
    for bad in ("cup", "box,cup", "", [], 3):
        with pytest.raises(InvalidParameterError, match="classes must be 'all'"):
            class_selection(bad)


def test_only_the_recordings_of_the_kept_classes_with_their_original_labels(data_dir):
    ds = DVS128Objects(data_dir, sessions=["DataSet2"], classes="box,mouse,scissors")
    assert ds.recording_ids == ["DataSet2/box/Caixa", "DataSet2/mouse/Mouse", "DataSet2/scissors/Tesoura"]
    assert ds.targets == [CLASSES.index(c) for c in SHARED] == [0, 4, 6]
    assert ds.classes == CLASSES  # a model still gets 7 outputs
    assert len(DVS128Objects(data_dir, sessions=["DataSet2"])) == 7
    with pytest.raises(DatasetNotFoundError, match="no .aedat files of the classes mug under"):
        DVS128Objects(data_dir, sessions=["DataSet"], classes="mug")
    windows = object_windows(data_dir, classes=list(SHARED), sessions=["DataSet2"])
    assert set(windows.recording_ids) == set(ds.recording_ids)
    assert sorted(set(windows.targets)) == [0, 4, 6]


def test_protocol_b_trains_on_one_session_and_validates_on_the_shared_classes_of_the_other(data_dir):
    splits = training_splits("dvs128objects", data_dir, None, "session:DataSet2",
                             options={"classes": "box,mouse,scissors"})
    (train_ds, train_idx), (val_ds, val_idx) = splits.train, splits.val
    assert {train_ds.recording_ids[int(i)] for i in train_idx} == {
        "DataSet/box/caixa", "DataSet/mouse/Mouse_1", "DataSet/mouse/Mouse_official", "DataSet/scissors/tesoura_1"}
    assert splits.record["recordings"] == ["DataSet2/box/Caixa", "DataSet2/mouse/Mouse", "DataSet2/scissors/Tesoura"]
    # 300 ms windows that never overlap: 61-62 per 18.4-18.8 s recording
    held = np.unique(np.asarray(val_ds.recordings)[val_idx])
    assert len(val_idx) == sum(len(val_ds.windows_of(int(r))) for r in held) == 184
    assert set(np.asarray(val_ds.targets)[val_idx].tolist()) == {0, 4, 6}


def test_the_cli_option_reaches_the_resolved_config():
    args = build_parser().parse_args(["train", "--dataset", "dvs128objects", "--T", "1", "--val-split",
                                      "session:DataSet2", "--dataset-option", "classes=box,mouse,scissors"])
    cfg = resolve_config(config_from_args(args))
    assert cfg.dataset_options["classes"] == "box,mouse,scissors"
    assert resolve_config(config_from_args(build_parser().parse_args(
        ["train", "--dataset", "dvs128objects"]))).dataset_options["classes"] == "all"
    args = build_parser().parse_args(["train", "--dataset", "dvs128objects", "--val-split",
                                      "recording:DataSet2/mug/Caneca"])
    assert resolve_config(config_from_args(args)).val_split == "recording:DataSet2/mug/Caneca"
    for bad in ("recording:", "recordings:DataSet2/mug/Caneca"):
        with pytest.raises(Exception, match=r"--val-split: expected .*recording:ID"):
            build_parser().parse_args(["train", "--dataset", "dvs128objects", "--val-split", bad])
        with pytest.raises(InvalidParameterError, match="val_split must be .*recording:ID"):
            resolve_config(TrainConfig(dataset="dvs128objects", val_split=bad))
