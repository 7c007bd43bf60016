"""Long recordings end to end with a tiny trained model: evaluation per window and per recording,
and ``eventsnn stream`` (a decision every few ms) equal to the offline model on the same windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eventsnn.bench import bench_checkpoint
from eventsnn.bench.replay import WindowPipeline, stream_recording
from eventsnn.cli import main
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.dvs128objects import CLASSES, DVS128Objects
from eventsnn.datasets.slicing import SlicedRecordings, TimeWindows
from eventsnn.errors import InvalidParameterError
from eventsnn.run import reset_state
from eventsnn.train import TrainConfig, evaluate_checkpoint, load_model, train

MOUSE = "DataSet/mouse/Mouse_1"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The DVS128Objects recipe at T = 2 (event augmentation, filter, normalisation), one epoch on
    100 windows, trained on session DataSet2 and validated on DataSet."""
    out = tmp_path_factory.mktemp("objects") / "run"
    result = train(TrainConfig(dataset="dvs128objects", T=2, epochs=1, limit=100, val_split="session:DataSet",
                               out=str(out), progress=False))
    assert result.config.recipe == "dvs128objects-T2"
    return result


@pytest.fixture(autouse=True)
def one_thread():
    """Batch-1 steps on one thread (as eventsnn stream runs them): on a busy machine two threads
    wait on each other for every small operation."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mouse(data_dir) -> tuple[np.ndarray, str]:
    ds = DVS128Objects(data_dir)
    i = ds.recording_ids.index(MOUSE)
    return ds.read(i), ds.files[i]


class _One(EventDataset):
    """One recording in memory."""

    name, sensor_size, classes = "one", (128, 128, 2), CLASSES

    def __init__(self, events: np.ndarray) -> None:
        super().__init__("all")
        self.events, self.targets = events, [CLASSES.index("mouse")]

    def read(self, index: int) -> np.ndarray:
        return self.events


def test_eval_reports_windows_and_recordings(run):
    res = evaluate_checkpoint(run.last_checkpoint, split="val", out_dir=run.out_dir / "eval")
    assert res.n == run.final["val_samples"] and abs(res.accuracy - run.final["val_acc"]) < 1e-12
    rows = res.recordings
    assert [r["recording"] for r in rows] == sorted({"DataSet/box/caixa", MOUSE, "DataSet/mouse/Mouse_official",
                                                     "DataSet/scissors/tesoura_1"})
    assert sum(r["windows"] for r in rows) == res.n
    assert abs(sum(r["windows"] * r["window_accuracy"] for r in rows) - res.accuracy * res.n) < 1e-9
    assert res.recording_accuracy == np.mean([r["correct"] for r in rows])
    for r in rows:  # the decision is the majority of the window votes
        votes = np.zeros(len(CLASSES), int)
        for name, n in r["votes"].items():
            votes[CLASSES.index(name)] = n
        assert r["prediction"] == CLASSES[int(votes.argmax())] and votes.sum() == r["windows"]
    saved = json.loads((run.out_dir / "eval" / "eval.json").read_text())
    assert saved["recordings"] == rows and saved["recording_accuracy"] == res.recording_accuracy
    bench = bench_checkpoint(run.last_checkpoint, T=[2], latency_samples=0, throughput_batch=0, progress=False)
    row = bench["rows"][0]
    assert row["accuracy"] == res.accuracy and row["recording_accuracy"] == res.recording_accuracy
    assert [r["recording"] for r in row["recordings"]] == [r["recording"] for r in rows]


def test_eval_cli_prints_the_recordings(run, tmp_path, capsys):
    assert main(["eval", str(run.last_checkpoint), "--split", "val", "--out", str(tmp_path / "e"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "per recording (majority vote over its windows):" in out and "/4 = " in out
    res = evaluate_checkpoint(run.last_checkpoint, split="val")
    for r in res.recordings:  # one line per recording: its windows and their accuracy
        assert f"{r['recording']}  " in out and f" {r['windows']} " in out


def test_stream_decisions_equal_the_offline_model_on_the_same_windows(run, mouse):
    model, info = load_model(run.last_checkpoint)
    pipe = WindowPipeline.from_checkpoint(info)
    assert pipe.window_us == 300_000 and pipe.stc.T == 2
    assert pipe.denoise is not None and pipe.normalize is not None  # the recipe's preprocessing
    events = mouse[0][mouse[0]["t"] < 2_500_000]
    res = stream_recording(model, events, pipe, list(CLASSES), step_us=20_000, label=CLASSES.index("mouse"))
    windows = SlicedRecordings(_One(events), TimeWindows(300_000, 20_000), recording_transform=pipe.denoise,
                               window_transform=pipe.normalize)
    assert len(windows) == len(res.times_us) > 50  # every window has events here
    assert np.array_equal(windows.t_end, res.times_us)
    with torch.no_grad():
        for i in range(len(windows)):
            x = torch.from_numpy(pipe.stc(windows.read(i))).unsqueeze(1)  # [T, 1, P, H, W]
            offline = model(x).float().mean(0)[0]
            reset_state(model)
            assert torch.equal(torch.from_numpy(res.scores[i]), offline), i
    assert res.accuracy == np.mean(res.predictions == CLASSES.index("mouse"))
    # every 15th decision is one of the evaluation windows (non-overlapping, 300 ms)
    evaluation = SlicedRecordings(_One(events), TimeWindows(300_000), recording_transform=pipe.denoise)
    assert np.array_equal(evaluation.t_end, res.times_us[::15])
    assert res.realtime_factor > 0 and np.all(res.compute_ms > 0)


def test_continuous_mode_keeps_the_state(run, mouse):
    model, info = load_model(run.last_checkpoint)
    pipe = WindowPipeline.from_checkpoint(info)
    events = mouse[0][mouse[0]["t"] < 1_000_000]
    res = stream_recording(model, events, pipe, list(CLASSES), step_us=50_000, mode="continuous")
    win = stream_recording(model, events, pipe, list(CLASSES), step_us=50_000)
    assert np.array_equal(res.times_us, win.times_us) and res.label is None and res.accuracy is None
    # tick k: one step, state kept, on the last training step (150 ms) of the window ending at the
    # tick (normalised with the whole window's statistics); the decision: the mean of the outputs so far
    ev = pipe.prepare(events)
    outputs = []
    with torch.no_grad():
        for tau in res.times_us[:3]:
            start = int(tau) - 300_000
            w = pipe.window_events(ev[(ev["t"] >= start) & (ev["t"] < tau)], start)
            x = torch.from_numpy(pipe.stc.with_T(1)(w[w["t"] >= 150_000])).unsqueeze(1)
            outputs.append(model(x).float()[0, 0])
    reset_state(model)
    for k in range(3):
        assert torch.equal(torch.from_numpy(res.scores[k]), torch.stack(outputs[: k + 1]).mean(0)), k
    with pytest.raises(InvalidParameterError, match="mode must be one of"):
        stream_recording(model, events, pipe, list(CLASSES), mode="sliding")
    with pytest.raises(InvalidParameterError, match="shorter than one window"):
        stream_recording(model, events[:100], pipe, list(CLASSES))


def test_paced_replay_waits_for_the_clock(run, mouse):
    model, info = load_model(run.last_checkpoint)
    pipe = WindowPipeline.from_checkpoint(info)
    events = mouse[0][mouse[0]["t"] < 800_000]
    res = stream_recording(model, events, pipe, list(CLASSES), step_us=50_000, realtime=True, speed=10.0)
    span_s = (res.times_us[-1] - res.times_us[0]) / 1e6
    assert res.wall_s >= span_s / 10 and res.lag_ms is not None and len(res.lag_ms) == len(res.times_us)
    summary = res.summary()
    assert np.all(res.lag_ms >= 0) and summary["lag_ms_median"] == pytest.approx(float(np.median(res.lag_ms)))
    assert summary["lag_ms_median"] <= summary["lag_ms_p95"] <= float(res.lag_ms.max())


def test_stream_cli_on_a_real_recording(run, mouse, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["stream", mouse[1], "--model", str(run.last_checkpoint), "--step-ms", "50", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "x real time on 1 thread(s)" in printed and "(mouse)" in printed
    s = json.loads((out / "stream.json").read_text())
    assert s["label"] == "mouse" and s["mode"] == "window" and s["step_ms"] == 50 and s["T"] == 2
    assert s["ticks"] == len((out / "stream.csv").read_text().splitlines()) - 1 > 300
    assert 0 <= s["accuracy"] <= 1 and s["realtime_factor"] > 0 and s["events"] == 338_857
    assert (out / "stream.png").stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["missing.aedat"], "recording not found: missing.aedat"),
    (["{rec}", "--step-ms", "0"], "--step-ms must be > 0"),
    (["{rec}", "--step-ms", "-5"], "--step-ms must be > 0"),
    (["{rec}", "--step-ms", "500"], "must not exceed the window"),
    (["{rec}", "--label", "giraffe"], "--label 'giraffe' is not a class of the model"),
    (["{rec}", "--speed", "0"], "--speed must be > 0"),
    (["{rec}", "--out", "{existing}"], "--overwrite"),
])
def test_stream_cli_bad_input_is_one_line(run, mouse, tmp_path, capsys, argv, message):
    existing = tmp_path / "done"
    existing.mkdir()
    (existing / "stream.json").write_text("{}")
    args = [a.format(rec=mouse[1], existing=existing) for a in argv]
    assert main(["stream", *args, "--model", str(run.last_checkpoint), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eventsnn stream: error:") and message in err and "\n" not in err
    assert (existing / "stream.json").read_text() == "{}"
