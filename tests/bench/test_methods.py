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
