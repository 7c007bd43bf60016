"""eventsnn.train / ``eventsnn train``: learning, files, determinism, resume after a kill, torchrun."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _runs import same_state, strip_time

from eventsnn.cli import main
from eventsnn.datasets import compress_datasets, open_split, spread_indices
from eventsnn.errors import CheckpointError, InvalidParameterError
from eventsnn.nn.models import build_model
from eventsnn.train import (
    FrameSet,
    TrainConfig,
    evaluate,
    load_checkpoint,
    load_model,
    train,
)
from eventsnn.train.metrics import read_metrics_csv
from eventsnn.transforms import STC

pytestmark = pytest.mark.slow

TINY = {"channels": [4, 8], "dropout": 0.0}
N_SIM = 160  # recordings per split of the simulated set used here


@pytest.fixture(scope="module")
def h5(tmp_path_factory) -> Path:
    """The embedded synthetic set (N_SIM train + N_SIM test), compressed at T=2, 17x17."""
    sets = {s: open_split("synthetic", None, s, N_SIM)[0] for s in ("train", "test")}
    out = tmp_path_factory.mktemp("h5") / "synthetic-T2.h5"
    return compress_datasets(sets, out, STC((34, 34, 2), 2, spatial_factor=2), progress=False)


def _cfg(out: Path, h5: Path, **kw) -> TrainConfig:
    base = dict(out=str(out), data=str(h5), epochs=2, batch_size=16, lr=3e-3, model=dict(TINY),
                progress=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    env["PYTHONWARNINGS"] = "ignore"
    return env


def test_spread_indices_keep_every_class_of_a_sorted_split() -> None:
    labels = np.repeat(np.arange(10), 50)  # class-sorted, like N-MNIST's folders
    idx = spread_indices(len(labels), 30)
    assert len(idx) == len(np.unique(idx)) == 30
    assert np.bincount(labels[idx], minlength=10).tolist() == [3] * 10
    assert spread_indices(7, None).tolist() == list(range(7))
    assert spread_indices(7, 100).tolist() == list(range(7))


def test_dataset_defaults_come_from_the_specs_and_the_old_table_still_reads() -> None:
    import eventsnn.train
    from eventsnn.train.config import resolve_config

    with pytest.warns(DeprecationWarning, match="DATASET_DEFAULTS"):
        table = eventsnn.train.DATASET_DEFAULTS
    assert table["synthetic"] == {"preset": "synthetic", "T": 4, "spatial_factor": 2, "epochs": 4,
                                  "batch_size": 32, "n_samples": {"train": 1500, "test": 500}}
    assert table["nmnist"] == {"preset": "nmnist", "T": 4, "epochs": 15, "batch_size": 16}
    assert table["cifar10dvs-sim"] == {"preset": "cifar10dvs", "T": 4, "epochs": 30, "batch_size": 16}
    with pytest.raises(TypeError):
        table["nmnist"]["T"] = 2  # read-only
    cfg = resolve_config(TrainConfig(dataset="dvsgesture"))
    assert (cfg.preset, cfg.T, cfg.epochs, cfg.batch_size, cfg.spatial_factor) == ("dvsgesture", 4, 30, 16, 4)


def test_synthetic_learns_well_above_chance_and_writes_the_run_folder(tmp_path: Path) -> None:
    cfg = TrainConfig(out=str(tmp_path / "run"), limit=N_SIM, T=2, spatial_factor=2, epochs=4,
                      batch_size=16, lr=1e-2, model={"channels": [8, 16]}, progress=False)
    r = train(cfg)
    # held-out part: the synthetic test split (independent draws), 10 classes -> chance 10%
    assert r.data_info["val"]["kind"] == "test"
    assert r.final["val_samples"] == N_SIM and r.final["train_samples"] == N_SIM
    assert r.best_val_acc >= 0.7, r.history  # 87.5% when written
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    out = tmp_path / "run"
    for name in ("last.pt", "best.pt", "metrics.csv", "metrics.json", "curves.png", "config.json"):
        assert (out / name).is_file(), name
    rows = read_metrics_csv(out / "metrics.csv")
    assert [int(x["epoch"]) for x in rows] == [1, 2, 3, 4]
    assert [x["val_acc"] for x in rows] == pytest.approx([h["val_acc"] for h in r.history])
    # cosine schedule: lr of epoch 1 is the base lr, then decreases
    assert rows[0]["lr"] == pytest.approx(1e-2) and rows[-1]["lr"] < rows[1]["lr"] < rows[0]["lr"]
    # best.pt is the best epoch; everything in it loads with weights_only=True
    raw = torch.load(out / "best.pt", weights_only=True)
    assert raw["epoch"] + 1 == r.best_epoch and raw["best"]["val_acc"] == r.best_val_acc
    assert set(raw["rng"]) == {"torch", "cuda", "numpy", "python"}
    assert raw["config"]["stc"]["T"] == 2 and raw["config"]["stc"]["spatial_factor"] == 2
    # the model rebuilt from last.pt alone reproduces the final validation accuracy exactly
    model, info = load_model(out / "last.pt")
    assert info["config"]["model"] == r.model_config
    val = FrameSet(*_val_frames(cfg))
    ev = evaluate(model, val, info["config"]["classes"])
    assert ev.accuracy == r.final["val_acc"]
    assert ev.n == N_SIM and ev.confusion.sum() == N_SIM


def _val_frames(cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    from eventsnn.train.config import resolve_config
    from eventsnn.train.data import prepare_data

    b = prepare_data(resolve_config(cfg), progress=False)
    return b.val.x, b.val.y


def test_training_is_deterministic_with_a_seed(tmp_path: Path, h5: Path) -> None:
    a = train(_cfg(tmp_path / "a", h5, limit=80))
    b = train(_cfg(tmp_path / "b", h5, limit=80))
    c = train(_cfg(tmp_path / "c", h5, limit=80, seed=2))
    assert strip_time(a.history) == strip_time(b.history)
    assert same_state(a.model.state_dict(), b.model.state_dict())
    assert not same_state(a.model.state_dict(), c.model.state_dict())
    # file source with a test split: validate on it
    assert a.data_info["source"] == "file" and a.data_info["val"]["kind"] == "test"
    assert a.final["train_samples"] == 80 and a.final["val_samples"] == 80


def test_holdout_is_stratified_seeded_and_recorded(tmp_path: Path, h5: Path) -> None:
    r = train(_cfg(tmp_path / "h", h5, val_split="holdout", val_fraction=0.25, epochs=1))
    val = r.data_info["val"]
    assert val["kind"] == "holdout" and val["n_split"] == N_SIM and val["seed"] == 0
    assert len(val["indices"]) == r.final["val_samples"] == N_SIM // 4
    assert r.final["train_samples"] == N_SIM - N_SIM // 4
    r2 = train(_cfg(tmp_path / "h2", h5, val_split="holdout", val_fraction=0.25, epochs=1, seed=5))
    assert r2.data_info["val"]["indices"] == val["indices"]  # split_seed, not seed, picks it
    ckpt = load_checkpoint(tmp_path / "h" / "best.pt")
    assert ckpt["config"]["data"]["val"]["indices"] == val["indices"]


def test_init_from_starts_from_the_checkpoint_weights(tmp_path: Path, h5: Path) -> None:
    pre = train(_cfg(tmp_path / "pre", h5, limit=48, epochs=1))
    ft = train(_cfg(tmp_path / "ft", h5, limit=48, epochs=1, lr=1e-9, init_from=str(pre.last_checkpoint)))
    w_pre = pre.model.state_dict()["features.0.conv_bn.body.0.weight"]
    w_ft = ft.model.state_dict()["features.0.conv_bn.body.0.weight"]
    assert torch.allclose(w_pre, w_ft, atol=1e-6)
    fresh = build_model(**pre.model_config).state_dict()["features.0.conv_bn.body.0.weight"]
    assert not torch.allclose(fresh, w_ft, atol=1e-3)


def test_synops_penalty_lowers_the_measured_synaptic_operations(tmp_path: Path, h5: Path) -> None:
    from eventsnn.bench.metrics import measure_cost
    from eventsnn.datasets.compressed import read_attributes
    from eventsnn.train.config import resolve_config
    from eventsnn.train.data import prepare_data

    plain = train(_cfg(tmp_path / "plain", h5, epochs=3))
    sparse = train(_cfg(tmp_path / "sparse", h5, epochs=3, synops_penalty=1.0))
    assert "train_synops_fraction" not in plain.final
    fractions = [row["train_synops_fraction"] for row in sparse.history]
    assert all(f > 0.0 for f in fractions) and fractions[-1] < fractions[0]
    x = prepare_data(resolve_config(_cfg(tmp_path / "v", h5), read_attributes(h5)), progress=False).val.x
    # the layers after the first (whose input is the data, the same for both)
    ops = {name: sum(layer["effective_ops"] for layer in measure_cost(r.model, x).layers[1:])
           for name, r in (("plain", plain), ("sparse", sparse))}
    assert ops["sparse"] < 0.75 * ops["plain"], ops
    assert sparse.final["val_acc"] > 0.3  # 10 classes: still well above chance
    saved = load_checkpoint(tmp_path / "sparse" / "last.pt")["config"]["train"]
    assert saved["synops_penalty"] == 1.0


def test_bad_settings_raise_specific_errors(tmp_path: Path, h5: Path) -> None:
    with pytest.raises(InvalidParameterError, match="T=3"):
        train(_cfg(tmp_path / "x", h5, T=3))
    with pytest.raises(InvalidParameterError, match="not both"):
        train(_cfg(tmp_path / "x", h5, dataset="nmnist"))
    with pytest.raises(InvalidParameterError, match="unknown option"):
        train(_cfg(tmp_path / "x", h5, model={"no_such_option": 1}))
    with pytest.raises(InvalidParameterError, match="augmentation"):
        train(_cfg(tmp_path / "x", h5, augment="wobble=3"))
    with pytest.raises(CheckpointError, match="not found"):
        train(_cfg(tmp_path / "nothing-here", h5, resume=True))


def test_cli_resume_without_checkpoint_is_one_line_exit_2(tmp_path: Path, h5: Path, capsys) -> None:
    rc = main(["train", "--data", str(h5), "--out", str(tmp_path / "none"), "--resume", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "checkpoint not found" in err


def _train_cmd(h5: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "eventsnn", "train", "--data", str(h5), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "16", "--lr", "3e-3", "--channels", "4", "8",
            "--model-arg", "dropout=0.1", "--seed", "7", "--no-progress", "--val-split", "holdout",
            "--limit", "96", "--augment", "shift=1", "--label-smoothing", "0.1"]


def test_resume_after_kill_ends_like_an_uninterrupted_run(tmp_path: Path, h5: Path) -> None:
    epochs = 4
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    assert main(_train_cmd(h5, ref, epochs)[3:]) == 0  # uninterrupted, in this process
    log = open(tmp_path / "killed.log", "w+")
    proc = subprocess.Popen(_train_cmd(h5, cut, epochs), env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while not (cut / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-2000:]  # not finished
    killed_at = load_checkpoint(cut / "last.pt")["epoch"]
    assert killed_at < epochs - 1
    resumed = subprocess.run(_train_cmd(h5, cut, epochs) + ["--resume"], env=_env(), capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {cut} after epoch {killed_at + 1}" in resumed.stdout + resumed.stderr
    a, b = load_checkpoint(ref / "last.pt"), load_checkpoint(cut / "last.pt")
    assert a["epoch"] == b["epoch"] == epochs - 1
    assert same_state(a["model_state"], b["model_state"])
    assert strip_time(a["metrics"]) == strip_time(b["metrics"])
    assert a["best"] == b["best"]
    assert same_state(load_checkpoint(ref / "best.pt")["model_state"],
                       load_checkpoint(cut / "best.pt")["model_state"])
    assert [r["val_acc"] for r in read_metrics_csv(cut / "metrics.csv")] == [r["val_acc"] for r in a["metrics"]]
    # a resumed run refuses different settings
    changed = subprocess.run(_train_cmd(h5, cut, epochs + 1) + ["--resume"], env=_env(), capture_output=True,
                             text=True, timeout=120)
    assert changed.returncode == 2 and "epochs: 4 -> 5" in changed.stderr


def test_torchrun_two_processes_gloo(tmp_path: Path, h5: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    out = tmp_path / "ddp"
    n_train = 70
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "eventsnn.cli", "train",
           "--data", str(h5), "--out", str(out), "--epochs", "2", "--batch-size", "8", "--lr", "3e-3",
           "--limit", str(n_train), "--channels", "4", "8", "--no-progress", "--device", "cpu"]
    env = _env()
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]  # torchrun fails if any rank fails
    assert done.stdout.count("done in") == 1  # rank 0 only logs
    assert done.stdout.count("epoch 2/2:") == 1
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".pt") == ["best.pt", "last.pt"]
    assert not list(out.glob("*.tmp-*"))
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["world_size"] == 2 and ckpt["epoch"] == 1
    rows = read_metrics_csv(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:  # sums over both ranks: the padded train set and exactly the val set
        assert r["train_samples"] == 2 * math.ceil(n_train / 2)
        assert r["val_samples"] == n_train
        assert 0.0 <= r["val_acc"] <= 1.0 and math.isfinite(r["train_loss"])
    # the all-reduced validation accuracy is the accuracy of the saved model on the whole val set
    model, info = load_model(out / "last.pt")
    from eventsnn.datasets.compressed import CompressedDataset

    ds = CompressedDataset(h5, "test")
    idx = spread_indices(len(ds), n_train)
    frames = FrameSet(torch.from_numpy(ds.all_frames()[idx]), torch.from_numpy(ds.targets[idx]))
    assert evaluate(model, frames).accuracy == pytest.approx(rows[-1]["val_acc"], abs=1e-12)
