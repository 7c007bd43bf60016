"""eventsnn.bench: NeuroBench-style counts, streaming == offline, and ``eventsnn bench`` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from spikingjelly.activation_based import functional as sj_functional
from torch import nn

from eventsnn.bench import (
    CostMeter,
    StreamingClassifier,
    decision_stats,
    measure_cost,
    measure_latency,
    measure_stream_step,
    offline_outputs,
    running_predictions,
    static_cost,
)
from eventsnn.cli import main
from eventsnn.datasets import NMNIST
from eventsnn.errors import InvalidParameterError
from eventsnn.events import make_events
from eventsnn.functional.stc import stc_numpy
from eventsnn.nn import build_model
from eventsnn.nn.neuron import MTLIF
from eventsnn.train import TrainConfig, load_model, train
from eventsnn.transforms import STC

SENSOR = (34, 34, 2)


# --------------------------------------------------------------------------- metrics


def _linear() -> nn.Linear:
    lin = nn.Linear(3, 2, bias=True)
    with torch.no_grad():  # nonzero weights per input column: 1, 0, 2
        lin.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]))
        lin.bias.fill_(5.0)  # bias is not a synaptic operation
    return lin


def _cost(model: nn.Module, x: torch.Tensor, **kw) -> dict:
    with CostMeter(model, **kw) as meter:
        model(x)
        meter.add_samples(x.shape[1])
    return meter.report().to_dict()


def test_binary_input_counts_exact_acs() -> None:
    # [T=2, B=1, 3]: step 0 activates inputs 0 and 2 (fan-out 1 + 2), step 1 input 1 (fan-out 0)
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]]])
    r = _cost(_linear(), x)
    assert r["effective_acs"] == 3 and r["effective_macs"] == 0
    assert r["dense_synops"] == 2 * 6  # every connection, every step, zero weights included
    assert r["layers"][0]["input_kind"] == "binary" and r["layers"][0]["spike_events"] == 3
    assert r["energy_uj"] == pytest.approx(3 * 0.9e-6)


def test_graded_input_counts_macs_and_reports_spike_events() -> None:
    x = torch.tensor([[[2.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]]])  # graded spikes (MT-LIF, K >= 2)
    r = _cost(_linear(), x)
    assert r["effective_macs"] == 3 and r["effective_acs"] == 0
    assert r["graded_spike_events"] == 3  # nonzero inputs (messages)
    assert r["graded_spike_count"] == 4  # 2 + 1 + 1 unit spikes
    assert r["acs_if_graded_unrolled"] == 2 * 1 + 1 * 2  # value x fan-out
    assert r["energy_uj"] == pytest.approx(3 * 4.6e-6)
    assert r["energy_uj_graded_as_acs"] == pytest.approx(4 * 0.9e-6)


def test_counts_are_per_sample_and_real_inputs_are_macs() -> None:
    x = torch.tensor([[[0.3, 0.0, 0.0], [0.0, 0.0, -0.7]]])  # [T=1, B=2, 3], real-valued
    r = _cost(_linear(), x)
    assert r["layers"][0]["input_kind"] == "real"
    assert r["effective_macs"] == (1 + 2) / 2 and r["dense_synops"] == 6
    assert r["acs_if_graded_unrolled"] == 0  # not spikes: stays MACs in the alternative too


def test_scaled_binary_inputs_are_acs_unless_strict() -> None:
    x = torch.tensor([[[0.5, 0.0, 0.5]]])  # {0, theta}: IF-layer outputs of converted networks
    assert _cost(_linear(), x)["effective_acs"] == 3
    strict = _cost(_linear(), x, scaled_binary_as_ac=False)
    assert strict["effective_acs"] == 0 and strict["effective_macs"] == 3


def test_conv_counts_match_binarised_convolution_with_padding_stride_groups() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    with torch.no_grad():
        conv.weight[conv.weight.abs() < 0.1] = 0.0  # some zero weights
    x = (torch.rand(3, 2, 4, 9, 9) < 0.2).float()  # [T, B, C, H, W] binary
    r = _cost(nn.Sequential(nn.Flatten(0, 1), conv), x)  # conv sees [T*B, C, H, W]
    wb = (conv.weight != 0).float()
    expected = F.conv2d(x.flatten(0, 1), wb, None, 2, 1, 1, 2).sum().item() / 2
    dense = F.conv2d(torch.ones(6, 4, 9, 9), torch.ones_like(wb), None, 2, 1, 1, 2).sum().item() / 2
    assert r["effective_acs"] == pytest.approx(expected, abs=1e-6) and r["effective_macs"] == 0
    assert r["dense_synops"] == pytest.approx(dense)
    assert r["connection_sparsity"] == pytest.approx(float((conv.weight == 0).float().mean()))


def test_single_active_pixel_fanout_by_hand() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.zeros(1, 1, 1, 3, 3)
    x[..., 0, 0] = 1.0  # a corner reaches 4 outputs
    x2 = torch.zeros(1, 1, 1, 3, 3)
    x2[..., 1, 1] = 1.0  # the centre reaches all 9
    seq = nn.Sequential(nn.Flatten(0, 1), conv)
    assert _cost(seq, x)["effective_acs"] == 4
    assert _cost(seq, x2)["effective_acs"] == 9
    assert _cost(seq, x)["dense_synops"] == 4 * 4 + 4 * 6 + 9


def test_activation_sparsity_and_static_cost() -> None:
    torch.manual_seed(1)
    model = build_model("nmnist", channels=[4, 8], n_thresholds=2).eval()
    x = torch.randint(0, 4, (3, 2, 2, 34, 34)).float()  # event counts 0..3
    neurons = {name: m for name, m in model.named_modules() if isinstance(m, MTLIF)}
    for m in neurons.values():
        m.record = True
    r = measure_cost(model, x.transpose(0, 1), batch_size=2)  # one batch: last_spikes = all spikes
    spikes = {name: m.last_spikes for name, m in neurons.items()}
    nz = sum(int((s != 0).sum()) for s in spikes.values())
    tot = sum(s.numel() for s in spikes.values())
    assert r.activation_sparsity == pytest.approx(1 - nz / tot)
    assert set(r.activation_by_layer) == set(spikes)
    st = static_cost(model)
    n_bytes = sum(p.numel() * 4 for p in model.parameters()) + sum(b.numel() * b.element_size() for b in model.buffers())
    assert st["footprint_bytes"] == n_bytes == r.footprint_bytes
    assert st["parameter_count"] == sum(p.numel() for p in model.parameters())
    kinds = [layer["input_kind"] for layer in r.layers]
    assert kinds[0] == "graded" and r.effective_macs > 0  # event counts are not binary
    with pytest.raises(InvalidParameterError):
        CostMeter(model).report()


# --------------------------------------------------------------------------- decision


def test_decision_stats_by_hand() -> None:
    # 2 recordings, 3 steps, 2 classes: rec 0 flips at step 2 and stays; rec 1 is class 1 throughout
    out = torch.tensor([
        [[2.0, 0.0], [0.0, 1.0]],
        [[0.0, 5.0], [0.0, 1.0]],
        [[0.0, 1.0], [0.0, 1.0]],
    ])
    preds = running_predictions(out)
    assert preds.tolist() == [[0, 1], [1, 1], [1, 1]]
    d = decision_stats(out, torch.tensor([1, 1]), step_us=10_000, stable_steps=2)
    assert d["accuracy"] == 1.0 and d["accuracy_by_step"] == [0.5, 1.0, 1.0]
    assert d["decision_step_mean"] == 1.5  # (2 + 1) / 2
    assert d["decision_ms_mean"] == pytest.approx(15.0)
    assert d["early_exit_step_mean"] == 2.5  # rec 0 stable at step 3, rec 1 at step 2
    d1 = decision_stats(out, torch.tensor([1, 1]), 10_000, stable_steps=1)
    assert d1["early_exit_step_mean"] == 1.0 and d1["early_exit_accuracy"] == 0.5
    dc = decision_stats(out, torch.tensor([1, 1]), 10_000, stable_steps=5, confidence_threshold=0.8)
    # softmax([2, 0]) top = 0.88 >= 0.8 -> rec 0 exits at step 1 (wrong); rec 1 (0.73) runs to the end
    assert dc["early_exit_step_mean"] == 2.0 and dc["early_exit_accuracy"] == 0.5
    with pytest.raises(InvalidParameterError):
        decision_stats(out, torch.tensor([1, 1]), 10_000, stable_steps=0)


# --------------------------------------------------------------------------- streaming


@pytest.fixture(scope="module")
def recordings(data_dir: Path) -> list[np.ndarray]:
    ds = NMNIST(data_dir, "train")
    return [ds.read(i) for i in range(5, 1000, 200)]  # 5 recordings, 5 digits


@pytest.mark.parametrize(
    ("preset", "kw", "stc"),
    [
        ("nmnist", {"channels": [4, 8], "scb": "all"}, STC(SENSOR, 3)),
        ("nmnist", {"channels": [4, 8]}, STC(SENSOR, 3, ratio=4, mode="exp", decay=0.6, carry=True)),
        ("plif", {"channels": [4, 8], "fc_hidden": 32}, STC(SENSOR, 3)),
    ],
)
def test_streaming_final_prediction_equals_offline(recordings, preset, kw, stc) -> None:
    torch.manual_seed(0)
    model = build_model(preset, **kw).eval()
    step_us, n = 70_000, 4
    offline = offline_outputs(model, recordings, stc, step_us, n)  # [n, N, C], batched
    sc = StreamingClassifier(model, stc, step_us)
    rng = np.random.default_rng(0)
    for i, ev in enumerate(recordings):
        sc.reset()
        cuts = np.sort(rng.integers(0, len(ev), 6))
        seen = []
        for chunk in np.split(ev, cuts):  # arbitrary chunks, some empty
            seen += sc.push(chunk)
        seen += sc.finish(n)
        assert [r.step for r in seen] == [1, 2, 3, 4]
        assert sum(r.n_events for r in seen) == int((ev["t"] < ev["t"][0] + n * step_us).sum())
        torch.testing.assert_close(sc.outputs, offline[:, i], rtol=1e-5, atol=1e-5)
        assert [r.prediction for r in seen] == running_predictions(offline[:, i : i + 1])[:, 0].tolist()
        # the offline model on the same fixed windows, one recording, batch 1
        x = torch.from_numpy(stc.window_frames(ev, step_us, n)).unsqueeze(1)
        sj_functional.reset_net(model)  # the stream's state lives in the model
        with torch.no_grad():
            single = model(x)
        sj_functional.reset_net(model)
        assert sc.prediction == int(single.mean(0).argmax(-1)[0])


def test_streaming_windows_are_the_offline_stc_windows(recordings) -> None:
    ev = recordings[0]
    stc = STC(SENSOR, 1)
    step_us = 50_000
    frames = stc.window_frames(ev, step_us, 3)
    t0 = int(ev["t"][0])
    for k in range(3):
        sel = ev[(ev["t"] >= t0 + k * step_us) & (ev["t"] < t0 + (k + 1) * step_us)]
        np.testing.assert_array_equal(frames[k], stc_numpy(sel, SENSOR, 1, t_start=t0 + k * step_us,
                                                           t_end=t0 + (k + 1) * step_us)[0])
    assert frames.sum() == int((ev["t"] < t0 + 3 * step_us).sum())


def test_deprecated_fixed_window_frames_still_works(recordings) -> None:
    from eventsnn.bench import fixed_window_frames

    ev = recordings[1]
    legacy = {"n_time_steps": 2, "ratio": 2, "mode": "exp", "decay": 0.5, "spatial_factor": 1,
              "merge_polarity": False, "carry": False}
    with pytest.warns(DeprecationWarning, match="window_frames"):
        old = fixed_window_frames(ev, legacy, SENSOR, 40_000, 3)
    np.testing.assert_array_equal(old, STC(SENSOR, 2, ratio=2, mode="exp").window_frames(ev, 40_000, 3))


def test_streaming_push_semantics() -> None:
    model = build_model("nmnist", channels=[2, 4]).eval()
    sc = StreamingClassifier(model, STC(SENSOR, 1), step_us=1000)
    assert sc.prediction is None
    ev = make_events([1, 2, 3], [1, 2, 3], [100, 900, 2500], [0, 1, 0])
    assert sc.push(ev[:2]) == []  # t0 = 100: step 1 ends at 1100, not reached
    done = sc.push(ev[2:])  # t = 2500 completes steps 1 (..1100) and 2 (..2100)
    assert [r.step for r in done] == [1, 2] and [r.n_events for r in done] == [2, 0]
    assert [r.step for r in sc.push(make_events([], [], [], []), now=3100)] == [3]
    with pytest.raises(InvalidParameterError, match="time order"):
        sc.push(make_events([0], [0], [50], [0]))
    sc.reset()
    assert sc.steps_done == 0 and sc.prediction is None and sc.finish(2)[-1].step == 2
    with pytest.raises(InvalidParameterError):
        StreamingClassifier(model, STC(SENSOR, 1), step_us=0)


def test_latency_measures_every_recording(recordings) -> None:
    model = build_model("nmnist", channels=[2, 4]).eval()
    lat = measure_latency(model, recordings[:3], STC(SENSOR, 2), warmup=1)
    assert lat.n == 3 and lat.T == 2
    assert 0 < lat.compress_ms_median <= lat.compress_ms_p95
    assert 0 < lat.network_ms_median <= lat.network_ms_p95
    assert lat.total_ms_median >= lat.network_ms_median
    st = measure_stream_step(model, recordings[:2], STC(SENSOR, 2), step_us=100_000, n_steps=3, warmup=0)
    assert 0 < st["stream_step_ms_median"] <= st["stream_step_ms_p95"]


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("bench") / "run"
    cfg = TrainConfig(dataset="nmnist", recipe="none", root=str(data_dir), limit=60, val_fraction=0.25, T=2, epochs=1,
                      batch_size=16, lr=5e-3, model={"channels": [4, 8], "n_thresholds": 2},
                      out=str(out), progress=False, seed=0)
    return train(cfg).best_checkpoint


@pytest.mark.slow
def test_bench_cli_end_to_end(tiny_checkpoint: Path, data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench"
    rc = main(["bench", str(tiny_checkpoint), "--dataset", "nmnist", "--root", str(data_dir), "--split", "val",
               "--T", "1", "2", "--out", str(out), "--latency-samples", "4", "--throughput-batch", "8",
               "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "SynOps" in printed and "0.9 pJ/AC" in printed
    res = json.loads((out / "results.json").read_text())
    rows = res["rows"]
    n_val = len(load_model(tiny_checkpoint)[1]["config"]["data"]["val"]["indices"])  # the hold-out
    assert [r["T"] for r in rows] == [1, 2] and res["meta"]["n"] == n_val and res["meta"]["split"] == "val"
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n"] == n_val
        assert r["synops"] == pytest.approx(r["effective_acs"] + r["effective_macs"])
        assert 0 < r["synops"] < r["dense_synops"]
        assert r["total_ms_median"] > 0 and r["throughput_per_s"] > 0
        assert 1.0 <= r["decision_step_mean"] <= r["T"] and 1.0 <= r["early_exit_step_mean"] <= r["T"]
    assert rows[1]["dense_synops"] == pytest.approx(2 * rows[0]["dense_synops"])  # dense ops scale with T
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["T"]) for r in table] == [1, 2] and float(table[0]["energy_uj"]) > 0
    for name in ("accuracy_vs_T", "latency_vs_T", "accuracy_vs_energy"):
        with Image.open(out / f"{name}.png") as im:
            assert im.size[0] > 300 and im.size[1] > 200


@pytest.mark.slow
def test_bench_accuracy_matches_eval_at_trained_T(tiny_checkpoint: Path, data_dir: Path) -> None:
    from eventsnn.bench import bench_checkpoint
    from eventsnn.train import evaluate_checkpoint

    res = bench_checkpoint(tiny_checkpoint, split="val", T=[2], latency_samples=0, throughput_batch=0,
                           progress=False)
    ev = evaluate_checkpoint(tiny_checkpoint, split="val", T=2)
    assert res["rows"][0]["accuracy"] == pytest.approx(ev.accuracy)
    with pytest.warns(DeprecationWarning, match="Ts="):  # the old name of the swept time steps
        old = bench_checkpoint(tiny_checkpoint, split="val", Ts=[2], latency_samples=0, throughput_batch=0,
                               progress=False)
    assert old["rows"][0]["accuracy"] == res["rows"][0]["accuracy"] and old["meta"]["trained_T"] == 2
    model, _ = load_model(tiny_checkpoint)
    assert res["rows"][0]["parameter_count"] == sum(p.numel() for p in model.parameters())


def test_bench_bad_checkpoint_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    rc = main(["bench", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "b")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "checkpoint not found" in err and "missing.pt" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["bench", str(bad)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
