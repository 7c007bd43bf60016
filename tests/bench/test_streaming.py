"""Streaming inference: the final streamed prediction equals the offline one, the windows are the
offline STC windows, decision statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional

from eventsnn.bench import (
    StreamingClassifier,
    decision_stats,
    offline_outputs,
    running_predictions,
)
from eventsnn.errors import InvalidParameterError
from eventsnn.events import make_events
from eventsnn.functional.stc import stc_numpy
from eventsnn.nn import build_model
from eventsnn.transforms import STC

SENSOR = (34, 34, 2)


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


@pytest.mark.parametrize(
    ("preset", "kw", "stc"),
    [
        ("nmnist", {"channels": [4, 8], "scb": "all"}, STC(SENSOR, 3)),
        ("nmnist", {"channels": [4, 8]}, STC(SENSOR, 3, ratio=4, mode="exp", decay=0.6, carry=True)),
        ("plif", {"channels": [4, 8], "fc_hidden": 32}, STC(SENSOR, 3)),
    ],
)
def test_streaming_final_prediction_equals_offline(nmnist_recordings, preset, kw, stc) -> None:
    torch.manual_seed(0)
    model = build_model(preset, **kw).eval()
    step_us, n = 70_000, 4
    offline = offline_outputs(model, nmnist_recordings, stc, step_us, n)  # [n, N, C], batched
    sc = StreamingClassifier(model, stc, step_us)
    rng = np.random.default_rng(0)
    for i, ev in enumerate(nmnist_recordings):
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


def test_streaming_windows_are_the_offline_stc_windows(nmnist_recordings) -> None:
    ev = nmnist_recordings[0]
    stc = STC(SENSOR, 1)
    step_us = 50_000
    frames = stc.window_frames(ev, step_us, 3)
    t0 = int(ev["t"][0])
    for k in range(3):
        sel = ev[(ev["t"] >= t0 + k * step_us) & (ev["t"] < t0 + (k + 1) * step_us)]
        np.testing.assert_array_equal(frames[k], stc_numpy(sel, SENSOR, 1, t_start=t0 + k * step_us,
                                                           t_end=t0 + (k + 1) * step_us)[0])
    assert frames.sum() == int((ev["t"] < t0 + 3 * step_us).sum())


def test_deprecated_fixed_window_frames_still_works(nmnist_recordings) -> None:
    from eventsnn.bench import fixed_window_frames

    ev = nmnist_recordings[1]
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
