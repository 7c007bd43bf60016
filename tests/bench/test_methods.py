"""eventsnn.bench.methods: Tonic frames for the PLIF reference and the benchmarks' result rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eventsnn.bench.methods import tonic_frames
from eventsnn.datasets import open_split
from eventsnn.train import DataBundle
from eventsnn.transforms import STC

pytestmark = pytest.mark.slow

TINY = {"channels": [4, 8], "dropout": 0.0}


def test_tonic_frames_equal_summed_stc_but_for_the_last_event() -> None:
    ds, idx = open_split("synthetic", None, "train", 4)
    recs = [ds.read(int(i)) for i in idx]
    theirs = tonic_frames(recs, ds.sensor_size, 2)
    ours = torch.from_numpy(STC(tuple(ds.sensor_size), 2).frames(recs))
    assert theirs.shape == ours.shape == (4, 2, 2, 34, 34)
    missing = (ours - theirs).flatten(1).sum(1)
    assert torch.all((missing >= 0) & (missing <= 2)) and (ours - theirs).min() >= 0
    pooled = tonic_frames(recs, ds.sensor_size, 2, spatial_factor=2)
    assert pooled.shape == (4, 2, 2, 17, 17) and torch.equal(pooled.flatten(1).sum(1), theirs.flatten(1).sum(1))


def test_train_on_frames_gives_a_result_row(tmp_path: Path, synthetic_bundle: DataBundle) -> None:
    from eventsnn.bench.methods import CSV_KEYS, BenchRun, train_on_frames, write_results

    run = BenchRun(runs=str(tmp_path), threads=1, budget_cpu_s=1e6)
    row = train_on_frames("tiny", {"model": dict(TINY), "epochs": 2, "batch_size": 16, "lr": 3e-3}, synthetic_bundle, run,
                          tmp_path / "tiny", frames_s=1.5)
    assert set(CSV_KEYS) <= set(row) and row["method"] == "tiny" and row["T"] == 2
    assert row["n_train"] == 160 and row["n_test"] == 80 and row["correct"] == round(row["accuracy"] * 80)
    assert row["epochs_done"] == row["epochs_planned"] == 2 and not row["budget_hit"] and row["frames_s"] == 1.5
    assert row["accuracy"] == row["history"][-1]["val_acc"]  # the last epoch's, not the best one's
    write_results([row], tmp_path / "out", {"benchmark": "test"})
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == ",".join(CSV_KEYS)


def test_the_reported_command_reruns_the_same_settings() -> None:
    """``train_command`` of a benchmark's resolved settings is the ``eventsnn train`` command that
    reruns them (the command the result files and docs quote)."""
    import shlex

    from eventsnn.bench.methods import train_command
    from eventsnn.cli import build_parser
    from eventsnn.cli.train import config_from_args
    from eventsnn.train import TrainConfig
    from eventsnn.train.config import resolve_config

    cfg = resolve_config(TrainConfig(
        dataset="cifar10dvs-sim", recipe="none", limit=2500, val_split="holdout", val_fraction=0.2, T=4,
        model={"n_thresholds": 2, "scb": "first", "input_transform": "log1p"}, ratio=8, mode="exp", batch_size=32,
        optimizer="adamw", weight_decay=0.01, scheduler="none", loss="ce", label_smoothing=0.1,
        augment="shift=2,rotation=15", budget_cpu_s=480.0, threads=1, out="runs/x"))
    again = resolve_config(config_from_args(build_parser().parse_args(shlex.split(train_command(cfg))[1:])))
    fields = ("dataset", "recipe", "limit", "val_split", "val_fraction", "split_seed", "preset", "model", "T",
              "ratio", "mode", "decay", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "scheduler",
              "loss", "label_smoothing", "augment", "budget_cpu_s", "seed", "threads", "out")
    assert {k: getattr(again, k) for k in fields} == {k: getattr(cfg, k) for k in fields}
