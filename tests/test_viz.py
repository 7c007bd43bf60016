"""Pictures: every viz function writes a non-empty image of the expected pixel size, the activity
recording matches the multi-step forward, and ``eventsnn show`` writes its files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import animation
from numpy.lib.recfunctions import require_fields
from PIL import Image
from spikingjelly.activation_based import functional as sj_functional

from eventsnn import viz
from eventsnn.cli import main
from eventsnn.errors import EmptyRecordingError, InvalidParameterError, OutputPathError
from eventsnn.events import empty_events, read_bin_events, write_bin_events
from eventsnn.functional.stc import stc_numpy
from eventsnn.nn import build_model
from eventsnn.train import save_checkpoint

SENSOR = (34, 34, 2)
# files in a packed dtype (as save_events writes), converted by field name: astype casts by position
PACKED = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "i1")])


@pytest.fixture(scope="module")
def events(nmnist_files):
    return read_bin_events(nmnist_files[0], SENSOR)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model("synthetic", channels=[4, 8], n_thresholds=2, per_channel_tau=True, scb="first",
                    spatial_factor=2)
    with torch.no_grad():
        m.features[0].neuron.w.uniform_(-1.0, 1.0)
    return m.eval()


def _size(path):
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as im:
        return im.size


def test_frames_to_rgb_colours():
    f = np.zeros((2, 2, 2), np.float32)  # [P, H, W]: P=0 OFF, P=1 ON
    f[1, 0, 0] = 4  # ON only
    f[0, 1, 1] = 4  # OFF only
    rgb = viz.frames_to_rgb(f, vmax=4)
    np.testing.assert_allclose(rgb[0, 1], [1, 1, 1])  # no event: white
    np.testing.assert_allclose(rgb[0, 0], viz.matplotlib.colors.to_rgb(viz.ON_COLOR), atol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], viz.matplotlib.colors.to_rgb(viz.OFF_COLOR), atol=1e-6)
    grey = viz.frames_to_rgb(np.array([[[0.0, 2.0]]]), vmax=4)  # merged polarity
    np.testing.assert_allclose(grey[0, 1], [0.5, 0.5, 0.5])
    with pytest.raises(InvalidParameterError):
        viz.frames_to_rgb(np.zeros((3, 4, 4)))


def test_animation_gif_size_and_frames(tmp_path, events):
    path = viz.animate_recording(events, SENSOR, tmp_path / "rec.gif", frame_ms=20, figsize=(3.2, 3.6), dpi=80)
    dur_ms = (events["t"][-1] - events["t"][0] + 1) / 1000
    with Image.open(path) as im:
        assert im.size == (256, 288)
        assert im.n_frames == int(np.ceil(dur_ms / 20))
    capped = viz.animate_recording(events, SENSOR, tmp_path / "cap.gif", frame_ms=1, max_frames=5, dpi=40)
    with Image.open(capped) as im:
        assert im.n_frames == 5 and im.size == (128, 144)


def test_animation_errors(tmp_path, events):
    with pytest.raises(InvalidParameterError, match="must be .gif or .mp4"):
        viz.animate_recording(events, SENSOR, tmp_path / "rec.avi")
    with pytest.raises(EmptyRecordingError):
        viz.animate_recording(empty_events(), SENSOR, tmp_path / "e.gif")
    if not animation.writers.is_available("ffmpeg"):
        with pytest.raises(InvalidParameterError, match="needs ffmpeg"):
            viz.animate_recording(events, SENSOR, tmp_path / "rec.mp4")


def test_plot_frames_and_event_rate_sizes(tmp_path, events):
    frames = stc_numpy(events, SENSOR, 4)
    assert _size(viz.plot_frames(frames, tmp_path / "f.png", step_ms=75, dpi=50)) == (360, 125)
    assert _size(viz.plot_frames(frames, tmp_path / "g.png", figsize=(8, 3), dpi=60)) == (480, 180)
    merged = stc_numpy(events, SENSOR, 10, merge_polarity=True)
    assert _size(viz.plot_frames(torch.from_numpy(merged), tmp_path / "m.png", max_cols=5, dpi=40)) == (360, 172)
    assert _size(viz.plot_event_rate(events, tmp_path / "r.png", T=4, figsize=(5, 2.5), dpi=80)) == (400, 200)
    with pytest.warns(DeprecationWarning, match="n_time_steps"):  # the keyword's old name
        assert _size(viz.plot_event_rate(events, tmp_path / "r2.png", n_time_steps=4, figsize=(5, 2.5),
                                         dpi=80)) == (400, 200)
    with pytest.raises(InvalidParameterError):
        viz.plot_frames(frames[0], tmp_path / "bad.png")


def test_record_activity_matches_multistep_forward(model, events):
    frames = stc_numpy(events, SENSOR, 4, spatial_factor=2)
    rec = viz.record_activity(model, frames)
    sj_functional.reset_net(model)
    with torch.no_grad():
        ref = model(torch.from_numpy(frames).unsqueeze(1))[:, 0].numpy()
    sj_functional.reset_net(model)
    np.testing.assert_allclose(rec.output, ref, rtol=1e-5, atol=1e-6)
    assert rec.layers == ["features.0.neuron", "features.1.neuron"]
    assert rec.spikes["features.0.neuron"].shape == (4, 4 * 17 * 17)
    assert rec.membrane["features.1.neuron"].shape == (4, 8 * 8 * 8)
    assert rec.shapes["features.0.neuron"] == (4, 17, 17)
    assert rec.thresholds["features.0.neuron"] == (1.0, 2)
    s = rec.spikes["features.0.neuron"]
    assert s.max() > 0 and set(np.unique(s)) <= {0.0, 1.0, 2.0}
    assert rec.prediction == int(ref.mean(0).argmax())


def test_model_pictures_sizes(tmp_path, model, events):
    rec = viz.record_activity(model, stc_numpy(events, SENSOR, 3, spatial_factor=2))
    assert _size(viz.plot_spike_rates(rec, tmp_path / "a.png", step_ms=100, dpi=50)) == (300, 175)
    assert _size(viz.plot_spike_raster(rec, tmp_path / "b.png", n_neurons=16, figsize=(6, 4), dpi=50)) == (300, 200)
    assert _size(viz.plot_membrane(rec, tmp_path / "c.png", layer="features.1.neuron", dpi=50)) == (300, 175)
    assert _size(viz.plot_tau(model, tmp_path / "d.png", step_ms=100, figsize=(4, 3), dpi=50)) == (200, 150)
    with pytest.raises(InvalidParameterError, match="no spiking layer"):
        viz.plot_membrane(rec, tmp_path / "x.png", layer="nope")


def test_tau_per_layer(model):
    taus = viz.tau_per_layer(model)
    assert list(taus) == ["features.0.neuron", "features.1.neuron"]
    assert taus["features.0.neuron"].shape == (4,)
    np.testing.assert_allclose(taus["features.0.neuron"], 1 / torch.sigmoid(model.features[0].neuron.w).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(taus["features.1.neuron"], 2.0, rtol=1e-6)
    plif = viz.tau_per_layer(build_model("plif", channels=[2, 2], fc_hidden=8))
    assert len(plif) == 4 and all(t.shape == (1,) and t[0] == pytest.approx(2.0) for t in plif.values())


def test_show_cli_writes_pictures(tmp_path, nmnist_files, model, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", {
        "epoch": 0, "model_state": model.state_dict(),
        # as an earlier eventsnn wrote the STC settings: n_time_steps, and no sensor size anywhere
        "config": {"model": model.config, "stc": {"n_time_steps": 3, "ratio": 1, "mode": "sum", "decay": 0.5,
                                                  "spatial_factor": 2, "merge_polarity": False, "carry": False},
                   "classes": [str(i) for i in range(10)]},
    })
    out = tmp_path / "pics"
    assert main(["show", str(nmnist_files[0]), "--model", str(ckpt), "--out", str(out), "--dpi", "40"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["event_rate.png", "frames_T3.png", "membrane.png", "recording.gif", "spike_raster.png",
                     "spike_rates.png", "tau.png"]
    assert _size(out / "event_rate.png") == (240, 120)
    printed = capsys.readouterr().out
    assert "predicted" in printed and "wrote" in printed

    out2 = tmp_path / "ds"
    assert main(["show", "--dataset", "nmnist", "--index", "3", "--T", "5", "--out", str(out2), "--no-animation"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["event_rate.png", "frames_T5.png"]


def test_show_cli_errors(tmp_path, nmnist_files, capsys):
    assert main(["show", str(tmp_path / "missing.bin")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eventsnn show: error:") and "missing.bin" in err and "\n" not in err
    bad = tmp_path / "trunc.bin"
    bad.write_bytes(nmnist_files[0].read_bytes()[:-2])
    assert main(["show", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "truncated" in capsys.readouterr().err
    txt = tmp_path / "x.txt"
    txt.write_text("hello")
    assert main(["show", str(txt)]) == 2
    assert "unknown event file type" in capsys.readouterr().err
    assert main(["show"]) == 2
    assert "either an event file or --dataset" in capsys.readouterr().err
    empty = tmp_path / "empty.npy"
    np.save(empty, require_fields(empty_events(), PACKED))
    assert main(["show", str(empty)]) == 2
    assert "no events" in capsys.readouterr().err


def test_show_reads_npy_and_bs2(tmp_path, events, dvs_clips, capsys):
    npy = tmp_path / "rec.npy"
    np.save(npy, require_fields(events, PACKED))
    assert main(["show", str(npy), "--out", str(tmp_path / "a"), "--no-animation", "--dpi", "30"]) == 0
    assert "sensor 34x34" in capsys.readouterr().out
    assert main(["show", str(dvs_clips[0]), "--out", str(tmp_path / "b"), "--no-animation", "--dpi", "30"]) == 0
    assert "sensor 128x128" in capsys.readouterr().out
    small = tmp_path / "small.bin"
    write_bin_events(small, events[:500])
    assert main(["show", str(small), "--out", str(tmp_path / "c"), "--no-animation", "--T", "2"]) == 0


# ------------------------------------------------------------------------- results pictures


def test_results_pictures_sizes_and_atomic_writes(tmp_path):
    hist = [{"epoch": i + 1, "train_loss": 2.0 - 0.2 * i, "val_loss": 2.1 - 0.1 * i, "train_acc": 0.2 * i,
             "val_acc": 0.15 * i} for i in range(4)]
    assert _size(viz.plot_curves(hist, tmp_path / "curves.png", "run a: nmnist, T=2 (nmnist model)")) == (990, 396)
    conf = np.array([[5, 1], [0, 4]])
    assert _size(viz.plot_confusion(conf, ["left", "right"], tmp_path / "confusion.png")) == (550, 440)
    rows = [{"method": m, "T": t, "acc": a, "ann": "r20", "ann_acc": 90.0, "n_test": 100}
            for m, t, a in (("eventsnn", 1, 60.0), ("eventsnn", 4, 85.0), ("spikingjelly-max", 4, 40.0))]
    assert _size(viz.plot_accuracy_vs_T(rows, 90.0, tmp_path / "conv.png", "conversion")) == (900, 576)
    assert _size(viz.plot_conversion_panels(rows, tmp_path / "panels.png")) == (624, 528)
    assert viz.plot_conversion_panels([], tmp_path / "none.png") is None
    acc_rows = [{"method": "eventsnn", "T": t, "accuracy": a, "n_test": 50} for t, a in ((1, 0.9), (2, 0.95))]
    assert _size(viz.plot_method_accuracy(acc_rows, tmp_path / "acc.png", "accuracy")) == (660, 480)
    assert not list(tmp_path.glob("*.tmp-*"))
    with pytest.raises(OutputPathError, match="is a file"):  # a file where the folder should be
        viz.plot_curves(hist, tmp_path / "curves.png" / "x.png")


def test_curves_are_titled_with_run_dataset_and_T(tmp_path, monkeypatch):
    from eventsnn.train.metrics import run_title, write_metrics

    config = {"model": {"preset": "nmnist"}, "stc": {"T": 2}, "data": {"dataset": "nmnist", "data": None}}
    assert run_title(tmp_path / "nmnist-T2", config) == "run nmnist-T2: nmnist, T=2 (nmnist model)"
    from_file = {"model": {"preset": "synthetic"}, "stc": {"T": 4}, "data": {"dataset": None, "data": "/d/x.h5"}}
    assert run_title("runs/a", from_file) == "run a: x.h5, T=4 (synthetic model)"
    titles = []
    import eventsnn.viz.training as training

    monkeypatch.setattr(training, "save", lambda fig, path, dpi: titles.append(fig._suptitle.get_text()) or path)
    hist = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5}]
    paths = write_metrics(tmp_path / "nmnist-T2", hist, {"epoch": 1, "val_acc": 0.5}, config)
    assert titles == ["run nmnist-T2: nmnist, T=2 (nmnist model)"] and paths["csv"].is_file() and paths["json"].is_file()


def test_moved_plotting_names_still_work_with_a_warning():
    import importlib

    evaluate = importlib.import_module("eventsnn.train.evaluate")  # eventsnn.train.evaluate: the function
    moved = [(evaluate, "plot_confusion", viz.plot_confusion),
             ("eventsnn.train.metrics", "plot_curves", viz.plot_curves),
             ("eventsnn.bench.sweep", "plot_results", viz.plot_bench_results),
             ("eventsnn.bench", "plot_results", viz.plot_bench_results),
             ("eventsnn.convert.report", "plot_accuracy_vs_T", viz.plot_accuracy_vs_T),
             (evaluate, "run_model", evaluate.evaluation_sums)]
    for module, name, new in moved:
        module = importlib.import_module(module) if isinstance(module, str) else module
        with pytest.warns(DeprecationWarning, match=name):
            assert getattr(module, name) is new
