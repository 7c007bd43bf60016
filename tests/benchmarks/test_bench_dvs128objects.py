"""benchmarks/bench_dvs128objects.py: its session shifts do what their names say, and the command
each row reports is the run it made."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from eventsnn.cli import build_parser
from eventsnn.cli.train import config_from_args
from eventsnn.datasets.dvs128objects import DVS128Objects
from eventsnn.train import TrainConfig

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_dvs128objects.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_dvs128objects", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recording(data_dir):
    return DVS128Objects(data_dir, sessions=["DataSet"], classes="box").read(0)  # caixa.aedat, 219,235 events


def _apply(bench, name, events):
    return {**bench.STRESS, **bench.ROTATIONS}[name][1](events)


def test_each_shift_changes_the_recording_as_named_and_the_same_way_every_time(bench, recording):
    ev = recording
    n, dur = len(ev), int(ev["t"][-1] - ev["t"][0])
    assert n == 219_235
    for name in (*bench.STRESS, *bench.ROTATIONS):
        out = _apply(bench, name, ev)
        assert np.array_equal(out, _apply(bench, name, ev)), name  # seeded: a fixed proxy session
        assert np.all(np.diff(out["t"]) >= 0) and out["x"].max() < 128 and out["y"].max() < 128, name
    mirror = _apply(bench, "mirror", ev)
    assert np.array_equal(mirror["x"], 127 - ev["x"]) and np.array_equal(mirror["y"], ev["y"])
    assert np.array_equal(_apply(bench, "polarity", ev)["p"], 1 - ev["p"])
    assert len(_apply(bench, "thin0.5", ev)) == n - int(0.5 * n + 0.5)
    slow, fast = _apply(bench, "slow2", ev), _apply(bench, "fast2", ev)
    assert int(slow["t"][-1] - slow["t"][0]) == 2 * dur and abs(int(fast["t"][-1] - fast["t"][0]) - dur // 2) <= 1
    assert len(_apply(bench, "noise", ev)) == n + int(10_000 * dur / 1e6)
    hot = _apply(bench, "hot", ev)
    extra = len(hot) - n
    assert extra == 8 * int(300 * (dur + 1) / 1e6)
    busiest = np.sort(np.bincount(hot["x"].astype(np.int64) * 128 + hot["y"]))[-8:]
    assert busiest.min() >= extra // 8  # eight pixels carry the added events
    shifted = _apply(bench, "shift", ev)
    kept = shifted["t"].size
    assert 0 < kept < n  # events moved off the sensor are dropped
    assert abs(np.median(shifted["x"]) - np.median(ev["x"]) - 22) <= 1
    assert abs(np.median(shifted["y"]) - np.median(ev["y"]) + 18) <= 1
    spread = np.median(np.hypot(ev["x"] - 63.5, ev["y"] - 63.5))
    small = _apply(bench, "scale0.7", ev)
    assert abs(np.median(np.hypot(small["x"] - 63.5, small["y"] - 63.5)) / spread - 0.7) < 0.03


def test_a_stressed_session_keeps_its_recordings_and_labels(bench, data_dir):
    options = {"window_us": 300_000, "denoise_us": 30_000, "normalize": "rotate", "target_spread": 24.0,
               "classes": "box,mouse,scissors"}
    plain = bench.stressed_windows(data_dir, "DataSet2", options, lambda e: e)
    slow = bench.stressed_windows(data_dir, "DataSet2", options, bench.STRESS["slow2"][1])
    assert sorted(set(plain.recording_ids)) == sorted(set(slow.recording_ids)) == [
        "DataSet2/box/Caixa", "DataSet2/mouse/Mouse", "DataSet2/scissors/Tesoura"]
    assert len(plain) == 184 and abs(len(slow) - 2 * len(plain)) <= 3  # twice as long: twice the windows


def test_the_reported_command_is_the_run(bench):
    cfg = TrainConfig(out="runs/x", dataset="dvs128objects", recipe="auto", T=1, val_split="session:DataSet2",
                      dataset_options={"classes": "box,mouse,scissors", "normalize": "scale"}, threads=1,
                      event_augment="jitter", balance=False, label_smoothing=0.0, model={"n_thresholds": 1, "scb": "none"})
    args = build_parser().parse_args(bench.train_command(cfg).split()[1:])
    again = config_from_args(args)
    fields = ("dataset", "recipe", "T", "val_split", "dataset_options", "threads", "event_augment", "balance",
              "label_smoothing", "model", "out")
    assert {k: getattr(again, k) for k in fields} == {k: getattr(cfg, k) for k in fields}
    plif = dataclasses.replace(cfg, recipe="plif", dataset_options={}, event_augment=None, balance=None,
                               label_smoothing=None, model={})
    assert bench.train_command(plif).startswith("eventsnn train --dataset dvs128objects --recipe plif --T 1 ")


def test_leave_one_recording_out_folds_and_means(bench, data_dir):
    folds = bench.loro_folds(data_dir)
    assert len(folds) == 11 and len({f["held_out"] for f in folds}) == 11
    assert sorted(f["class"] for f in folds if not f["class_in_training"]) == [
        "box_cutter", "cellphone", "mech_pencil", "mug"]  # one recording each: absent from training when held out
    assert bench.protocol_spec("DataSet2/mug/Caneca")["val_split"] == "recording:DataSet2/mug/Caneca"
    rows = [{**f, "method": "eventsnn", "T": 1, "accuracy": 0.5 + 0.5 * f["class_in_training"],
             "vote_correct": f["class_in_training"], "train_cpu_s": 10.0} for f in folds]
    (s,) = bench.loro_summary(rows)
    assert s["mean_accuracy_class_in_training"] == 1.0 and s["folds_class_in_training"] == 7
    assert s["votes_ok_all"] == s["votes_ok_class_in_training"] == 7 and s["train_cpu_s_total"] == 110.0
    assert s["mean_accuracy_all"] == (7 + 4 * 0.5) / 11 and len(s["class_not_in_training"]) == 4
