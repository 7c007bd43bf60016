"""The training stage: frames the caller made, AdamW, and the CPU budget (what the benchmarks rely on)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.train import DataBundle, TrainConfig, load_checkpoint, resolve_config, train
from eventsnn.train.distributed import init_distributed
from eventsnn.train.stage import CpuClock, build_stage
from eventsnn.transforms import STC

pytestmark = pytest.mark.slow

TINY = {"channels": [4, 8], "dropout": 0.0}
STC2 = STC((34, 34, 2), 2, spatial_factor=2)


def _cfg(out: Path, **kw) -> TrainConfig:
    base = dict(out=str(out), dataset="synthetic", recipe="none", T=2, spatial_factor=2, epochs=3, batch_size=16,
                lr=3e-3, model=dict(TINY), progress=False, seed=1)
    return TrainConfig(**{**base, **kw})


def test_train_on_given_frames_learns_and_records_them(tmp_path: Path, synthetic_bundle: DataBundle) -> None:
    r = train(_cfg(tmp_path / "run"), data=synthetic_bundle)
    assert r.final["train_samples"] == 160 and r.final["val_samples"] == 80
    assert r.final["val_acc"] > 0.3  # 10 classes: well above chance
    assert r.data_info["source"] == "frames" and r.data_info["note"] == "x" and r.data_info["val"]["kind"] == "test"
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["data"] == r.data_info


def _stage(tmp_path: Path, synthetic_bundle: DataBundle, **kw):
    cfg = resolve_config(_cfg(tmp_path / "s", **kw))
    return build_stage(cfg, init_distributed("cpu"), CpuClock(), data=synthetic_bundle)


def test_adamw_is_used_when_asked_and_a_bad_optimizer_is_named(tmp_path: Path, synthetic_bundle: DataBundle) -> None:
    assert type(_stage(tmp_path, synthetic_bundle).optimizer) is torch.optim.Adam
    stage = _stage(tmp_path, synthetic_bundle, optimizer="adamw", weight_decay=0.01)
    assert type(stage.optimizer) is torch.optim.AdamW and stage.optimizer.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(InvalidParameterError, match="optimizer must be adam or adamw, got 'sgd'"):
        resolve_config(_cfg(tmp_path, optimizer="sgd"))
    with pytest.raises(InvalidParameterError, match="budget_cpu_s must be > 0"):
        resolve_config(_cfg(tmp_path, budget_cpu_s=0))


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_budget_shortens_the_stage_and_refits_the_cosine_schedule(tmp_path: Path, synthetic_bundle: DataBundle) -> None:
    stage = _stage(tmp_path, synthetic_bundle, epochs=10, budget_cpu_s=35.0)
    stage.scheduler.step()  # what the first epoch did
    stage.fit_budget(cpu_at_start=0.0, cpu_first_epoch=10.0)  # 0.95 x 35 / 10 -> 3 epochs fit
    assert stage.epochs == 3 and stage.saved_config["budget_epochs"] == 3
    lrs = [stage.optimizer.param_groups[0]["lr"]]
    for _ in range(2):
        stage.scheduler.step()
        lrs.append(stage.optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.5 * 3e-3 * (1 + math.cos(math.pi * e / 3)) for e in (1, 2, 3)], abs=1e-12)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)  # still anneals to 0
    roomy = _stage(tmp_path, synthetic_bundle, epochs=10, budget_cpu_s=1000.0)
    roomy.fit_budget(cpu_at_start=0.0, cpu_first_epoch=10.0)
    assert roomy.epochs == 10  # they fit: nothing changes


def test_a_spent_budget_stops_after_one_epoch(tmp_path: Path, synthetic_bundle: DataBundle) -> None:
    r = train(_cfg(tmp_path / "b", epochs=4, budget_cpu_s=1e-3), data=synthetic_bundle)
    assert len(r.history) == 1
    assert load_checkpoint(tmp_path / "b" / "last.pt")["config"]["budget_epochs"] == 1
    free = train(_cfg(tmp_path / "f", epochs=2), data=synthetic_bundle)
    assert len(free.history) == 2


def test_the_command_line_takes_the_optimizer_and_the_budget() -> None:
    from eventsnn.cli import build_parser
    from eventsnn.cli.train import config_from_args

    args = build_parser().parse_args(["train", "--dataset", "synthetic", "--optimizer", "adamw",
                                      "--budget-cpu-s", "420"])
    cfg = resolve_config(config_from_args(args))
    assert cfg.optimizer == "adamw" and cfg.budget_cpu_s == 420.0
    default = resolve_config(config_from_args(build_parser().parse_args(["train", "--dataset", "synthetic"])))
    assert default.optimizer == "adam" and default.budget_cpu_s is None


