"""eventsnn.train on frames the caller made, AdamW, and the CPU budget (what the benchmarks rely on)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from eventsnn.bench.methods import frame_bundle, tonic_frames
from eventsnn.datasets import load_frames, open_split
from eventsnn.errors import InvalidParameterError
from eventsnn.train import DataBundle, TrainConfig, load_checkpoint, resolve_config, train
from eventsnn.train.distributed import init_distributed
from eventsnn.train.stage import CpuClock, build_stage
from eventsnn.transforms import STC

pytestmark = pytest.mark.slow

TINY = {"channels": [4, 8], "dropout": 0.0}
STC2 = STC((34, 34, 2), 2, spatial_factor=2)


@pytest.fixture(scope="module")
def bundle() -> DataBundle:
    """160 train / 80 test recordings of the embedded synthetic set as 17x17 frames at T = 2."""
    tr = load_frames("synthetic", None, "train", STC2, limit=160)
    te = load_frames("synthetic", None, "test", STC2, limit=80)
    classes = open_split("synthetic", None, "train", 160)[0].classes
    return frame_bundle((tr.x, tr.y), (te.x, te.y), classes, (34, 34, 2), STC2, {"dataset": "synthetic", "note": "x"})


def _cfg(out: Path, **kw) -> TrainConfig:
    base = dict(out=str(out), dataset="synthetic", recipe="none", T=2, spatial_factor=2, epochs=3, batch_size=16,
                lr=3e-3, model=dict(TINY), progress=False, seed=1)
    return TrainConfig(**{**base, **kw})


def test_train_on_given_frames_learns_and_records_them(tmp_path: Path, bundle: DataBundle) -> None:
    r = train(_cfg(tmp_path / "run"), data=bundle)
    assert r.final["train_samples"] == 160 and r.final["val_samples"] == 80
    assert r.final["val_acc"] > 0.3  # 10 classes: well above chance
    assert r.data_info["source"] == "frames" and r.data_info["note"] == "x" and r.data_info["val"]["kind"] == "test"
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["data"] == r.data_info


def _stage(tmp_path: Path, bundle: DataBundle, **kw):
    cfg = resolve_config(_cfg(tmp_path / "s", **kw))
    return build_stage(cfg, init_distributed("cpu"), CpuClock(), data=bundle)


def test_adamw_is_used_when_asked_and_a_bad_optimizer_is_named(tmp_path: Path, bundle: DataBundle) -> None:
    assert type(_stage(tmp_path, bundle).optimizer) is torch.optim.Adam
    stage = _stage(tmp_path, bundle, optimizer="adamw", weight_decay=0.01)
    assert type(stage.optimizer) is torch.optim.AdamW and stage.optimizer.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(InvalidParameterError, match="optimizer must be adam or adamw, got 'sgd'"):
        resolve_config(_cfg(tmp_path, optimizer="sgd"))
    with pytest.raises(InvalidParameterError, match="budget_cpu_s must be > 0"):
        resolve_config(_cfg(tmp_path, budget_cpu_s=0))


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_budget_shortens_the_stage_and_refits_the_cosine_schedule(tmp_path: Path, bundle: DataBundle) -> None:
    stage = _stage(tmp_path, bundle, epochs=10, budget_cpu_s=35.0)
    stage.scheduler.step()  # what the first epoch did
    stage.fit_budget(cpu_at_start=0.0, cpu_first_epoch=10.0)  # 0.95 x 35 / 10 -> 3 epochs fit
    assert stage.epochs == 3 and stage.saved_config["budget_epochs"] == 3
    lrs = [stage.optimizer.param_groups[0]["lr"]]
    for _ in range(2):
        stage.scheduler.step()
        lrs.append(stage.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.5 * 3e-3 * (1 + math.cos(math.pi * e / 3)) for e in (1, 2, 3)], abs=1e-12)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)  # still anneals to 0
    roomy = _stage(tmp_path, bundle, epochs=10, budget_cpu_s=1000.0)
    roomy.fit_budget(cpu_at_start=0.0, cpu_first_epoch=10.0)
    assert roomy.epochs == 10  # they fit: nothing changes


def test_a_spent_budget_stops_after_one_epoch(tmp_path: Path, bundle: DataBundle) -> None:
    r = train(_cfg(tmp_path / "b", epochs=4, budget_cpu_s=1e-3), data=bundle)
    assert len(r.history) == 1
    assert load_checkpoint(tmp_path / "b" / "last.pt")["config"]["budget_epochs"] == 1
    free = train(_cfg(tmp_path / "f", epochs=2), data=bundle)
    assert len(free.history) == 2


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


def test_the_command_line_takes_the_optimizer_and_the_budget() -> None:
    from eventsnn.cli import build_parser
    from eventsnn.cli.train import config_from_args

    args = build_parser().parse_args(["train", "--dataset", "synthetic", "--optimizer", "adamw",
                                      "--budget-cpu-s", "420"])
    cfg = resolve_config(config_from_args(args))
    assert cfg.optimizer == "adamw" and cfg.budget_cpu_s == 420.0
    default = resolve_config(config_from_args(build_parser().parse_args(["train", "--dataset", "synthetic"])))
    assert default.optimizer == "adam" and default.budget_cpu_s is None


def test_train_on_frames_gives_a_result_row(tmp_path: Path, bundle: DataBundle) -> None:
    from eventsnn.bench.methods import CSV_KEYS, BenchRun, train_on_frames, write_results

    run = BenchRun(runs=str(tmp_path), threads=1, budget_cpu_s=1e6)
    row = train_on_frames("tiny", {"model": dict(TINY), "epochs": 2, "batch_size": 16, "lr": 3e-3}, bundle, run,
                          tmp_path / "tiny", frames_s=1.5)
    assert set(CSV_KEYS) <= set(row) and row["method"] == "tiny" and row["T"] == 2
    assert row["n_train"] == 160 and row["n_test"] == 80 and row["correct"] == round(row["accuracy"] * 80)
    assert row["epochs_done"] == row["epochs_planned"] == 2 and not row["budget_hit"] and row["frames_s"] == 1.5
    assert row["accuracy"] == row["history"][-1]["val_acc"]  # the last epoch's, not the best one's
    write_results([row], tmp_path / "out", {"benchmark": "test"})
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == ",".join(CSV_KEYS)
