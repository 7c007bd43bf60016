"""Wall-clock latency per recording (batch size 1) and throughput (large batch) on this machine.

Per recording, as a deployed classifier would do it: compress the events with STC
(:class:`eventsnn.transforms.STC`, the training window: first to last event, ``T`` steps) and run
the network on ``[T, 1, P, H, W]`` (:func:`eventsnn.run.run_model`, which resets its state). Both parts are timed
separately with :func:`time.perf_counter`; the first ``warmup`` recordings are not counted.
Statistics are the median and the 95th percentile over recordings, in milliseconds.

Streaming (:func:`measure_stream_step`): the compute time of one
:class:`~eventsnn.bench.streaming.StreamingClassifier` step (STC of the step's events + one network
step + the running prediction), i.e. how long after a step's window closes its prediction is out.

Throughput: ``batch_size`` recordings compressed together
(:meth:`eventsnn.transforms.STC.frames`) and run as one ``[T, B, ...]`` batch;
recordings per second over ``repeats`` timed batches after one warm-up batch.

Timings depend on the load of the machine: :func:`load_average` is recorded with every result
(other processes share the CPU here), and comparisons should be ratios measured in one process.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.run.forward import Batch, run_model
from eventsnn.transforms import STC

__all__ = ["LatencyResult", "load_average", "measure_latency", "measure_stream_step", "measure_throughput"]


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages of the machine (``uptime``), or [] where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


@dataclass
class LatencyResult:
    """Latency per recording at batch size 1 (ms) and throughput (recordings / s).

    ``*_median`` / ``*_p95`` over ``n`` timed recordings; ``total`` = compression + network
    of the same recording. ``threads``: torch CPU threads; ``load_avg``: machine load at the end.
    """

    T: int
    n: int
    warmup: int
    compress_ms_median: float
    compress_ms_p95: float
    network_ms_median: float
    network_ms_p95: float
    total_ms_median: float
    total_ms_p95: float
    threads: int
    load_avg: list[float]
    throughput_per_s: float | None = None
    throughput_batch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _decision(out: torch.Tensor, _batch: Batch) -> torch.Tensor:
    """The predicted classes ``[B]`` of outputs ``[T, B, C]``, on the CPU."""
    return out.mean(0).argmax(-1).cpu()


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    recordings: Sequence[np.ndarray],
    stc: STC,
    T: int | None = None,
    warmup: int = 5,
    device: str | torch.device = "cpu",
) -> LatencyResult:
    """Per-recording latency at batch size 1: STC time, network time, and their sum.

    Args:
        model: ``[T, 1, P, H, W] -> [T, 1, C]``; put in eval mode and reset after each recording.
        recordings: the recordings to time (each is timed once, after ``warmup`` untimed runs
            on the first ones).
        stc: STC settings; ``T`` (if given) replaces theirs.
    """
    if not recordings:
        raise InvalidParameterError("measure_latency: no recordings")
    stc = stc if T is None else stc.with_T(T)
    dev = torch.device(device)
    model.eval()
    comp, net = [], []
    for i in range(warmup + len(recordings)):
        ev = recordings[i % len(recordings)] if i < warmup else recordings[i - warmup]
        t0 = time.perf_counter()
        x = torch.from_numpy(stc(ev)).unsqueeze(0).to(dev)  # [1, T, P, H, W]
        t1 = time.perf_counter()
        run_model(model, x, batch_size=1, device=dev, reduce=_decision)  # a sync point on CUDA
        t2 = time.perf_counter()
        if i >= warmup:
            comp.append(t1 - t0)
            net.append(t2 - t1)
    c, n = np.asarray(comp) * 1e3, np.asarray(net) * 1e3
    tot = c + n
    return LatencyResult(
        T=stc.T, n=len(recordings), warmup=warmup,
        compress_ms_median=float(np.median(c)), compress_ms_p95=float(np.percentile(c, 95)),
        network_ms_median=float(np.median(n)), network_ms_p95=float(np.percentile(n, 95)),
        total_ms_median=float(np.median(tot)), total_ms_p95=float(np.percentile(tot, 95)),
        threads=torch.get_num_threads(), load_avg=load_average(),
    )


@torch.no_grad()
def measure_throughput(
    model: nn.Module,
    recordings: Sequence[np.ndarray],
    stc: STC,
    T: int | None = None,
    batch_size: int = 128,
    repeats: int = 2,
    device: str | torch.device = "cpu",
) -> float:
    """Recordings per second, STC + network, at ``batch_size`` (recordings reused cyclically)."""
    if not recordings:
        raise InvalidParameterError("measure_throughput: no recordings")
    if batch_size < 1 or repeats < 1:
        raise InvalidParameterError(f"batch_size and repeats must be >= 1, got {batch_size}, {repeats}")
    stc = stc if T is None else stc.with_T(T)
    dev = torch.device(device)
    model.eval()
    batch = [recordings[i % len(recordings)] for i in range(batch_size)]

    def once(recs: Sequence[np.ndarray]) -> None:
        x = torch.from_numpy(stc.frames(recs)).to(dev)  # [B, T, P, H, W]
        run_model(model, x, batch_size=len(recs), device=dev, reduce=_decision)

    once(batch[: min(8, batch_size)])  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        once(batch)
    return batch_size * repeats / (time.perf_counter() - t0)


def measure_stream_step(
    model: nn.Module,
    recordings: Sequence[np.ndarray],
    stc: STC,
    step_us: int,
    n_steps: int,
    warmup: int = 2,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Compute time of one streaming step (ms, median and p95 over all steps of all recordings).

    Each recording is fed step by step: the events of window ``k`` are pushed with
    ``now = end of window k``, which completes exactly step ``k``; the push is timed.
    """
    from eventsnn.bench.streaming import StreamingClassifier

    if not recordings:
        raise InvalidParameterError("measure_stream_step: no recordings")
    sc = StreamingClassifier(model, stc, step_us, device=device)
    times = []
    for i in range(warmup + len(recordings)):
        ev = recordings[i % len(recordings)] if i < warmup else recordings[i - warmup]
        sc.reset()
        t0 = int(ev["t"].min()) if len(ev) else 0
        sc.t0 = t0
        for k in range(n_steps):
            end = t0 + (k + 1) * step_us
            chunk = ev[(ev["t"] >= end - step_us) & (ev["t"] < end)]
            a = time.perf_counter()
            done = sc.push(chunk, now=end)
            b = time.perf_counter()
            if len(done) != 1:  # pragma: no cover - guarded by the window arithmetic
                raise RuntimeError(f"expected one completed step, got {len(done)}")
            if i >= warmup:
                times.append(b - a)
    sc.reset()
    ms = np.asarray(times) * 1e3
    return {"stream_step_ms_median": float(np.median(ms)), "stream_step_ms_p95": float(np.percentile(ms, 95))}
