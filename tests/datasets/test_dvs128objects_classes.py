"""The ``classes`` option of dvs128objects: test on the classes two sessions share (protocol B)."""

from __future__ import annotations

import numpy as np
import pytest

from eventsnn.cli import build_parser
from eventsnn.cli.train import config_from_args
from eventsnn.datasets import training_splits
from eventsnn.datasets.dvs128objects import CLASSES, DVS128Objects, class_selection, object_windows
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.train.config import resolve_config

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
