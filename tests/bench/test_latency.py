"""Latency per recording and per streaming step: every recording is measured."""

from __future__ import annotations

from eventsnn.bench import (
    measure_latency,
    measure_stream_step,
)
from eventsnn.nn import build_model
from eventsnn.transforms import STC

SENSOR = (34, 34, 2)


def test_latency_measures_every_recording(nmnist_recordings) -> None:
    model = build_model("nmnist", channels=[2, 4]).eval()
    lat = measure_latency(model, nmnist_recordings[:3], STC(SENSOR, 2), warmup=1)
    assert lat.n == 3 and lat.T == 2
    assert 0 < lat.compress_ms_median <= lat.compress_ms_p95
    assert 0 < lat.network_ms_median <= lat.network_ms_p95
    assert lat.total_ms_median >= lat.network_ms_median
    st = measure_stream_step(model, nmnist_recordings[:2], STC(SENSOR, 2), step_us=100_000, n_steps=3, warmup=0)
    assert 0 < st["stream_step_ms_median"] <= st["stream_step_ms_p95"]
