"""eventsnn.train.evaluate / ``eventsnn eval`` on real N-MNIST recordings held out by training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from spikingjelly.activation_based import functional as sj_functional

from eventsnn.cli import main
from eventsnn.datasets import (
    NMNIST,
    compress_datasets,
    open_split,
    spread_indices,
    stratified_split,
)
from eventsnn.errors import CheckpointError, DatasetNotFoundError, InvalidParameterError
from eventsnn.nn.models import spike_layers
from eventsnn.train import (
    TrainConfig,
    eval_frames,
    evaluate,
    evaluate_checkpoint,
    load_checkpoint,
    load_model,
    train,
)
from eventsnn.transforms import STC

pytestmark = pytest.mark.slow

N_REAL = 120  # real N-MNIST train recordings used (spread over the 1,000), 20% held out


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir: Path):
    out = tmp_path_factory.mktemp("nmnist") / "run"
    cfg = TrainConfig(dataset="nmnist", recipe="none", root=str(data_dir), limit=N_REAL, val_fraction=0.2, T=2,
                      epochs=2, batch_size=16, lr=3e-3, model={"channels": [4, 8], "n_thresholds": 2},
                      out=str(out), progress=False, seed=0)
    return train(cfg)


def _expected_holdout(data_dir: Path) -> np.ndarray:
    """Labels of the hold-out: N_REAL recordings spread over the class-sorted train split, 20%
    of each class held out with split seed 0."""
    labels = np.asarray(NMNIST(data_dir, "train").targets)[spread_indices(1000, N_REAL)]
    return labels[stratified_split(labels, 0.2, 0)[1]]


def test_training_on_nmnist_without_test_split_holds_out_stratified_recordings(run, data_dir: Path) -> None:
    val = run.data_info["val"]
    assert val["kind"] == "holdout" and val["split"] == "train" and val["n_split"] == N_REAL
    expected = _expected_holdout(data_dir)
    assert run.final["val_samples"] == len(val["indices"]) == len(expected)
    assert np.bincount(expected, minlength=10).min() >= 2  # every digit is validated on
    assert load_checkpoint(run.best_checkpoint)["config"]["data"]["dataset"] == "nmnist"


def test_eval_split_val_rebuilds_the_training_holdout_exactly(run, data_dir: Path) -> None:
    ckpt = load_checkpoint(run.best_checkpoint)
    r = evaluate_checkpoint(run.best_checkpoint, split="val", device="cpu")
    expected = _expected_holdout(data_dir)
    assert r.n == len(expected) and r.T == 2
    assert r.confusion.sum(1).tolist() == np.bincount(expected, minlength=10).tolist()
    best_row = ckpt["metrics"][ckpt["epoch"]]
    assert r.accuracy == best_row["val_acc"]
    assert r.loss == pytest.approx(best_row["val_loss"], rel=1e-5)


def test_a_checkpoint_of_an_earlier_eventsnn_still_evaluates(run, tmp_path: Path) -> None:
    """Checkpoints written before STC held the sensor size and called T n_time_steps."""
    from eventsnn.train.checkpoint import save_checkpoint

    ckpt = torch.load(run.best_checkpoint, weights_only=True)
    stc = dict(ckpt["config"]["stc"])
    assert stc.pop("sensor_size") == [34, 34, 2]
    stc["n_time_steps"] = stc.pop("T")
    ckpt["config"]["stc"] = stc
    old = save_checkpoint(tmp_path / "old.pt", {k: v for k, v in ckpt.items() if not k.startswith("format")})
    assert "n_time_steps" in torch.load(old, weights_only=True)["config"]["stc"]
    assert load_model(old)[1]["config"]["stc"] == load_model(run.best_checkpoint)[1]["config"]["stc"]
    for T in (None, 1):
        r_old = evaluate_checkpoint(old, split="val", T=T)
        r_new = evaluate_checkpoint(run.best_checkpoint, split="val", T=T)
        assert (r_old.accuracy, r_old.n, r_old.T) == (r_new.accuracy, r_new.n, r_new.T)
        assert r_old.extra["trained_T"] == 2


def test_validation_rebuild_refuses_a_split_of_another_size(run, data_dir: Path) -> None:
    from eventsnn.datasets import checkpoint_split, recorded_holdout

    info = load_model(run.best_checkpoint)[1]["config"]["data"]
    ds, idx, desc = checkpoint_split(info, split="val")
    assert len(idx) == len(info["val"]["indices"]) and desc["dataset"] == "nmnist"
    assert idx.tolist() == spread_indices(1000, N_REAL)[info["val"]["indices"]].tolist()
    with pytest.raises(InvalidParameterError, match=r"nmnist at .*split of 120 samples, but 119 are there"):
        checkpoint_split({**info, "limit": N_REAL - 1}, split="val")
    with pytest.raises(InvalidParameterError, match="my-set: the training run held out recordings from a split of 5"):
        recorded_holdout(np.arange(4), {"n_split": 5, "indices": [1, 3]}, "my-set")
    assert recorded_holdout(np.arange(10, 15), {"n_split": 5, "indices": [1, 3]}, "my-set").tolist() == [11, 13]


def test_eval_at_another_T_recompresses_with_the_same_stc(run, data_dir: Path) -> None:
    model, info = load_model(run.best_checkpoint)
    stc1 = STC.from_dict(info["config"]["stc"]).with_T(1)
    frames, classes, desc = eval_frames(info["config"]["data"], stc1, split="val")
    assert tuple(frames.x.shape) == (run.final["val_samples"], 1, 2, 34, 34)
    # one step holds every event of the recording: the T=2 frames summed over time
    frames2, _, _ = eval_frames(info["config"]["data"], STC.from_dict(info["config"]["stc"]), split="val")
    assert torch.equal(frames.x[:, 0], frames2.x.sum(1))
    r1 = evaluate_checkpoint(run.best_checkpoint, split="val", T=1)
    assert r1.T == 1 and r1.extra["trained_T"] == 2
    assert r1.accuracy == evaluate(model, frames, classes).accuracy


def test_spike_rates_are_per_layer_means_of_the_graded_spikes(run) -> None:
    model, info = load_model(run.best_checkpoint)
    frames, classes, _ = eval_frames(info["config"]["data"], STC.from_dict(info["config"]["stc"]), split="val")
    r = evaluate(model, frames, classes, batch_size=len(frames))
    layers = spike_layers(model)
    assert list(r.spike_rates) == [name for name, _ in layers] == ["features.0.neuron", "features.1.neuron"]
    for _, m in layers:
        m.record = True
    with torch.no_grad():
        model(frames.x.transpose(0, 1))
    sj_functional.reset_net(model)
    for name, m in layers:
        s = m.last_spikes
        assert r.spike_rates[name]["mean_spikes"] == pytest.approx(float(s.float().mean()), rel=1e-6)
        assert r.spike_rates[name]["active_fraction"] == pytest.approx(float((s > 0).float().mean()), rel=1e-6)
        assert r.spike_rates[name]["neurons"] == s[0, 0].numel()
        assert 0.0 <= r.spike_rates[name]["mean_spikes"] <= 2.0  # K = 2


def test_cli_eval_prints_and_saves(run, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ev"
    rc = main(["eval", str(run.best_checkpoint), "--split", "val", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0
    doc = json.loads((out / "eval.json").read_text())
    assert f"accuracy {100 * doc['accuracy']:.2f}%" in printed
    assert doc["n"] == run.final["val_samples"] and np.asarray(doc["confusion"]).sum() == doc["n"]
    rates = json.loads((out / "spike_rates.json").read_text())
    assert set(rates) == {"features.0.neuron", "features.1.neuron"}
    with Image.open(out / "confusion.png") as im:
        assert im.size[0] > 200 and im.size[1] > 200


def test_cli_eval_nmnist_test_split_absent_is_one_line_exit_2(run, data_dir: Path, capsys) -> None:
    rc = main(["eval", str(run.best_checkpoint), "--dataset", "nmnist", "--root", str(data_dir),
               "--split", "test", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "N-MNIST test split not found" in err
    with pytest.raises(DatasetNotFoundError):
        evaluate_checkpoint(run.best_checkpoint, dataset="nmnist", root=data_dir, split="test")


def test_bad_checkpoints_are_checkpoint_errors(tmp_path: Path, run, capsys) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 100)
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(Path(run.best_checkpoint).read_bytes()[:-200])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    for path, msg in ((tmp_path / "missing.pt", "not found"), (bad, "not a PyTorch checkpoint"),
                      (trunc, "not a PyTorch checkpoint"), (foreign, "not an eventsnn checkpoint")):
        with pytest.raises(CheckpointError, match=msg):
            load_model(path)
        rc = main(["eval", str(path), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and msg in err, err


def test_eval_on_a_compressed_file_only_at_its_T(run, tmp_path: Path) -> None:
    ds, _ = open_split("synthetic", None, "test", 20)
    h5 = compress_datasets({"test": ds}, tmp_path / "s.h5", STC((34, 34, 2), 2), progress=False)
    r = evaluate_checkpoint(run.best_checkpoint, data=h5, split="test")
    assert r.n == 20 and r.T == 2 and r.confusion.sum() == 20
    with pytest.raises(InvalidParameterError, match="T=2"):
        evaluate_checkpoint(run.best_checkpoint, data=h5, split="test", T=1)


def test_cli_eval_without_a_test_split_evaluates_the_holdout_and_keeps_earlier_results(run, capsys) -> None:
    ckpt = str(run.best_checkpoint)
    rc = main(["eval", ckpt, "--no-progress", "--threads", "1"])  # the shared N-MNIST has no Test/
    cap = capsys.readouterr()
    assert rc == 0 and "--split val" in cap.err and "nmnist val (T=2" in cap.out
    out = Path(ckpt).parent / "eval-nmnist-val-T2"  # the default folder names the split used
    doc = json.loads((out / "eval.json").read_text())
    assert doc["n"] == run.final["val_samples"]
    stamp = (out / "eval.json").stat().st_mtime_ns
    assert main(["eval", ckpt, "--split", "val", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(out) in err and "--overwrite" in err
    assert (out / "eval.json").stat().st_mtime_ns == stamp  # nothing replaced without being asked
    assert main(["eval", ckpt, "--split", "val", "--no-progress", "--overwrite"]) == 0
    assert (out / "eval.json").stat().st_mtime_ns != stamp
    capsys.readouterr()
    assert main(["eval", ckpt, "--split", "test", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "N-MNIST test split not found" in err and "--split val" in err


def test_compress_eval_and_show_take_threads(run, tmp_path: Path, nmnist_files, monkeypatch, capsys) -> None:
    """``--threads N`` sets torch's CPU threads in compress, eval and show too, like the others."""
    seen: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    assert main(["compress", "--dataset", "synthetic", "--T", "2", "--limit", "10", "--no-progress",
                 "--threads", "3", "--out", str(tmp_path / "c.h5")]) == 0
    assert seen and set(seen) == {3}
    seen.clear()
    assert main(["eval", str(run.best_checkpoint), "--split", "val", "--no-progress", "--threads", "3",
                 "--out", str(tmp_path / "ev")]) == 0
    assert seen and set(seen) == {3}
    seen.clear()
    assert main(["show", str(nmnist_files[0]), "--no-animation", "--dpi", "30", "--threads", "3",
                 "--out", str(tmp_path / "pics")]) == 0
    assert seen == [3]
    assert capsys.readouterr().err == ""
