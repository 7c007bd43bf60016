"""A long recording replayed as if live, classified continuously: a decision every ``step_us``.

:func:`stream_recording` plays the events of one recording in time order (as fast as possible,
or paced by the wall clock), runs the model on them and records, for every tick ``τ`` (every
``step_us`` µs of sensor time), the decision, the compute time it took and, when paced, how
long after ``τ`` it was ready. The model was trained on windows of ``window_us`` µs
(``T`` STC steps each); two ways turn it into a decision every ``step_us``:

``mode="window"`` (default; exact)
    The decision at ``τ`` is the offline model on the window ``[τ - window_us, τ)``: the
    window's events, with the training preprocessing (the causal background-activity filter,
    run over the stream as a live filter would; the window's position normalisation), are
    compressed into ``T`` frames exactly as an evaluation window is, and the network runs ``T``
    steps from a reset state. Ticks start once a whole window has arrived (``τ = t0 +
    window_us``, ``t0`` the first event after filtering) and every tick whose window ends by the
    last event is decided: decision ``k`` equals the offline model on window ``k`` of
    ``TimeWindows(window_us, stride_us=step_us)`` (tested exactly equal), and every
    ``window_us / step_us``-th decision is one of the non-overlapping evaluation windows. Cost
    per tick: ``T`` network steps plus one window of preprocessing and STC.

``mode="continuous"`` (approximate; ``T`` times less network work)
    The network keeps its state over the whole recording and advances one step per tick. The
    step's input is one STC frame of the events of the last training step length
    (``window_us / T`` µs, normalised with the statistics of the last ``window_us`` of events),
    so each frame looks like a training step but the steps overlap; the decision at ``τ`` is
    the mean of the per-tick outputs of the last ``window_us``. Not what the model was trained
    on: the benchmark (``benchmarks/bench_stream.py``) measures what it costs in accuracy.

The result (:class:`StreamResult`) holds the decisions over time, per-tick compute time
(preprocessing + STC, network; wall clock, and the thread's CPU time), the real-time factor (sensor time streamed / compute time) and,
with a label, the fraction of decisions that are right. :func:`eventsnn.viz.plot_stream` draws it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from eventsnn.bench.streaming import confidence
from eventsnn.errors import InvalidParameterError
from eventsnn.events import normalize_events
from eventsnn.run.forward import reset_state
from eventsnn.transforms import (
    STC,
    BackgroundActivityFilter,
    NormalizePosition,
    window_preprocessing,
)

__all__ = ["MODES", "StreamResult", "WindowPipeline", "stream_recording"]

#: how the model gives a decision every tick (see the module docstring)
MODES = ("window", "continuous")


@dataclass(frozen=True)
class WindowPipeline:
    """How the events of a window become the model's input, as in training.

    Attributes:
        stc: the training STC settings (``T`` steps per window), on the recordings' sensor.
        window_us: the window length the model was trained on (µs).
        denoise: the causal filter run over the whole stream first (or ``None``).
        normalize: the position normalisation of each window's events (or ``None``).
    """

    stc: STC
    window_us: int
    denoise: BackgroundActivityFilter | None = None
    normalize: NormalizePosition | None = None

    @classmethod
    def from_checkpoint(cls, info: Mapping[str, Any], window_us: int | None = None) -> WindowPipeline:
        """The pipeline of a checkpoint's training run (``info`` from
        :func:`eventsnn.load_model`): its STC, and the window length and preprocessing of its
        dataset's options (``window_us``, ``denoise_us``, ``normalize``, ``target_spread``).

        Raises:
            InvalidParameterError: the run trained on whole recordings (no window length
                recorded) and no ``window_us`` is given.
        """
        config = info["config"]
        sensor = tuple(int(s) for s in config.get("sensor_size") or config["stc"]["sensor_size"])
        stc = STC.from_dict(config["stc"], sensor)
        options = dict(config.get("data", {}).get("options") or {})
        window = window_us if window_us is not None else options.get("window_us")
        if window is None:
            raise InvalidParameterError(
                f"{info.get('path', 'the checkpoint')}: trained on whole recordings, not windows of a "
                "stream: give the window length (--window-ms)")
        keys = ("denoise_us", "normalize", "target_spread")
        denoise, norm = window_preprocessing(sensor, **{k: options[k] for k in keys if k in options})
        return cls(stc, int(window), denoise, norm)

    def prepare(self, events: np.ndarray) -> np.ndarray:
        """The whole stream after the causal filter (what a live filter passes on)."""
        ev = normalize_events(events, "stream")
        return self.denoise(ev) if self.denoise is not None else ev

    def window_events(self, events: np.ndarray, t_start: int) -> np.ndarray:
        """Events of one window (a copy), ``t`` from ``t_start``, normalised."""
        w = events.copy()
        w["t"] -= t_start
        return self.normalize(w) if self.normalize is not None else w

    def frames(self, events: np.ndarray, t_start: int) -> np.ndarray:
        """``[T, P, H, W]`` frames of one window's events, as an evaluation window gets them."""
        return self.stc(self.window_events(events, t_start))


@dataclass
class StreamResult:
    """Decisions over the ticks of one streamed recording (``K`` ticks).

    Attributes:
        times_us: tick times ``[K]`` (µs, recording time; the decision covers what arrived before).
        predictions, confidence: the decision at each tick ``[K]``.
        scores: the (time-averaged) outputs behind each decision ``[K, C]``.
        prep_ms, net_ms: compute time per tick (wall clock): preprocessing + STC, and network (ms).
        cpu_ms: the CPU time of this thread per tick (ms): the same work without the time the
            thread waited for a core (on a busy machine wall times have long tails).
        lag_ms: paced replay only: wall time from the tick to its decision (ms), else ``None``.
        classes, label: class names and the true class index (``None`` when unknown).
        mode, step_us, window_us, T: the settings (see the module docstring).
        events: events streamed (after the filter: ``events_kept``).
        wall_s: wall time of the whole replay.
    """

    times_us: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    scores: np.ndarray
    prep_ms: np.ndarray
    net_ms: np.ndarray
    cpu_ms: np.ndarray
    lag_ms: np.ndarray | None
    classes: list[str]
    label: int | None
    mode: str
    step_us: int
    window_us: int
    T: int
    events: int
    events_kept: int
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def compute_ms(self) -> np.ndarray:
        """Compute time per tick (preprocessing + STC + network), ms."""
        return self.prep_ms + self.net_ms

    @property
    def realtime_factor(self) -> float:
        """Sensor time streamed / compute time (wall clock): how many times faster than real time."""
        total = float(self.compute_ms.sum())
        return float(len(self.times_us) * self.step_us / 1000 / total) if total > 0 else float("inf")

    @property
    def realtime_factor_cpu(self) -> float:
        """Sensor time streamed / CPU time of the computation."""
        total = float(self.cpu_ms.sum())
        return float(len(self.times_us) * self.step_us / 1000 / total) if total > 0 else float("inf")

    @property
    def accuracy(self) -> float | None:
        """Fraction of the decisions that name the true class (``None`` without a label)."""
        if self.label is None or not len(self.predictions):
            return None
        return float(np.mean(self.predictions == self.label))

    def summary(self) -> dict[str, Any]:
        """The scalar results (JSON-able)."""
        c = self.compute_ms
        q = (lambda a, p: float(np.percentile(a, p)) if len(a) else None)  # noqa: E731
        return {
            "mode": self.mode, "step_ms": self.step_us / 1000, "window_ms": self.window_us / 1000, "T": self.T,
            "ticks": len(self.times_us), "events": self.events, "events_kept": self.events_kept,
            "label": None if self.label is None else self.classes[self.label], "accuracy": self.accuracy,
            "step_ms_median": q(c, 50), "step_ms_p95": q(c, 95), "prep_ms_median": q(self.prep_ms, 50),
            "net_ms_median": q(self.net_ms, 50), "cpu_ms_median": q(self.cpu_ms, 50),
            "cpu_ms_p95": q(self.cpu_ms, 95), "realtime_factor": self.realtime_factor,
            "realtime_factor_cpu": self.realtime_factor_cpu,
            "lag_ms_median": None if self.lag_ms is None else q(self.lag_ms, 50),
            "lag_ms_p95": None if self.lag_ms is None else q(self.lag_ms, 95),
            "wall_s": round(self.wall_s, 3), **self.extra,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per tick (the CSV): time, decision, confidence, right or not, compute times."""
        out = []
        for k in range(len(self.times_us)):
            p = int(self.predictions[k])
            out.append({
                "time_s": float(self.times_us[k]) / 1e6, "prediction": self.classes[p],
                "confidence": float(self.confidence[k]),
                "correct": "" if self.label is None else int(p == self.label),
                "prep_ms": round(float(self.prep_ms[k]), 4), "net_ms": round(float(self.net_ms[k]), 4),
                "cpu_ms": round(float(self.cpu_ms[k]), 4),
                "lag_ms": "" if self.lag_ms is None else round(float(self.lag_ms[k]), 3),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {**self.summary(), **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}}


#: columns of the per-tick CSV (:meth:`StreamResult.rows`)
CSV_FIELDS = ["time_s", "prediction", "confidence", "correct", "prep_ms", "net_ms", "cpu_ms", "lag_ms"]


class _Clock:
    """Paces the replay: waits until a tick's sensor time (``speed`` x real time)."""

    def __init__(self, realtime: bool, t0_us: int, speed: float) -> None:
        self.realtime, self.t0, self.speed = realtime, t0_us, speed
        self.start = time.perf_counter()

    def wall_of(self, tick_us: int) -> float:
        return self.start + (tick_us - self.t0) / 1e6 / self.speed

    def wait(self, tick_us: int) -> None:
        if self.realtime:
            delay = self.wall_of(tick_us) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def _ticks(t: np.ndarray, first_us: int, step_us: int) -> np.ndarray:
    """Tick times from ``first_us`` every ``step_us`` up to the end of the stream (``t[-1] + 1``)."""
    end = int(t[-1]) + 1 if len(t) else first_us - 1
    return np.arange(first_us, end + 1, step_us, dtype=np.int64)


@torch.inference_mode()  # ~15 % less per step at batch 1 than no_grad
def _run_window(model: nn.Module, pipe: WindowPipeline, ev: np.ndarray, ticks: np.ndarray,
                clock: _Clock, out: dict[str, list], bar: tqdm) -> None:
    t = ev["t"]
    lo = np.searchsorted(t, ticks - pipe.window_us)
    hi = np.searchsorted(t, ticks)
    for k, tau in enumerate(ticks):
        clock.wait(int(tau))
        c0, k0 = time.perf_counter(), time.thread_time()
        x = torch.from_numpy(pipe.frames(ev[lo[k]:hi[k]], int(tau) - pipe.window_us)).unsqueeze(1)
        c1 = time.perf_counter()
        scores = model(x).float().mean(0)[0]
        reset_state(model)
        _record(out, scores, (c0, c1, time.perf_counter()), time.thread_time() - k0, clock, int(tau))
        bar.update(1)


@torch.inference_mode()  # ~15 % less per step at batch 1 than no_grad
def _run_continuous(model: nn.Module, pipe: WindowPipeline, ev: np.ndarray, ticks: np.ndarray,
                    clock: _Clock, out: dict[str, list], bar: tqdm, step_us: int) -> None:
    t = ev["t"]
    one = replace(pipe.stc, T=1)
    length = pipe.window_us // pipe.stc.T  # the training step length
    keep = max(1, pipe.window_us // step_us)  # outputs averaged: those of the last window
    lo = np.searchsorted(t, ticks - pipe.window_us)
    hi = np.searchsorted(t, ticks)
    recent: list[torch.Tensor] = []
    reset_state(model)
    for k, tau in enumerate(ticks):
        clock.wait(int(tau))
        c0, k0 = time.perf_counter(), time.thread_time()
        w = pipe.window_events(ev[lo[k]:hi[k]], int(tau) - pipe.window_us)
        x = torch.from_numpy(one(w[w["t"] >= pipe.window_us - length])).unsqueeze(1)
        c1 = time.perf_counter()
        recent.append(model(x).float()[0, 0])
        del recent[:-keep]
        scores = torch.stack(recent).mean(0)
        _record(out, scores, (c0, c1, time.perf_counter()), time.thread_time() - k0, clock, int(tau))
        bar.update(1)
    reset_state(model)


def _record(out: dict[str, list], scores: torch.Tensor, wall: tuple[float, float, float], cpu_s: float,
            clock: _Clock, tau: int) -> None:
    """One tick's decision; ``wall``: start, end of preprocessing, end (``perf_counter``)."""
    c0, c1, c2 = wall
    out["scores"].append(scores)
    out["prep_ms"].append((c1 - c0) * 1e3)
    out["net_ms"].append((c2 - c1) * 1e3)
    out["cpu_ms"].append(cpu_s * 1e3)
    out["lag_ms"].append((c2 - clock.wall_of(tau)) * 1e3)


def _check(step_us: int, mode: str, speed: float, pipe: WindowPipeline) -> None:
    if isinstance(step_us, bool) or int(step_us) != step_us or int(step_us) < 1:
        raise InvalidParameterError(f"step must be a whole number of µs >= 1, got {step_us!r}")
    if mode not in MODES:
        raise InvalidParameterError(f"mode must be one of {MODES}, got {mode!r}")
    if not speed > 0:
        raise InvalidParameterError(f"speed must be > 0, got {speed!r}")
    if int(step_us) > pipe.window_us:
        raise InvalidParameterError(f"step ({step_us} µs) must not exceed the window ({pipe.window_us} µs)")


def stream_recording(
    model: nn.Module,
    events: np.ndarray,
    pipeline: WindowPipeline,
    classes: list[str],
    step_us: int = 10_000,
    mode: str = "window",
    label: int | None = None,
    realtime: bool = False,
    speed: float = 1.0,
    progress: bool = False,
) -> StreamResult:
    """Replay ``events`` (one long recording, time-sorted) as a live stream and classify it
    every ``step_us`` µs of sensor time (see the module docstring for ``mode``).

    Args:
        model: ``[T, B, P, H, W] -> [T, B, C]`` (eval mode; its state is reset here).
        pipeline: how windows become input (:meth:`WindowPipeline.from_checkpoint`).
        classes: class names (``C``); ``label``: the true class index, if known.
        realtime: wait for each tick's sensor time on the wall clock (``speed`` x real time);
            otherwise as fast as possible.

    Raises:
        InvalidParameterError: a bad step, mode or speed, or a recording shorter than one
            window (nothing to decide).
    """
    _check(step_us, mode, speed, pipeline)
    step_us = int(step_us)
    model.eval()
    raw = normalize_events(events, "stream")
    ev = pipeline.prepare(raw)
    t = ev["t"]
    ticks = _ticks(t, int(t[0]) + pipeline.window_us, step_us) if len(t) else np.zeros(0, np.int64)
    if not len(ticks):
        raise InvalidParameterError(
            f"the recording holds {len(ev)} events over {(int(t[-1]) - int(t[0])) / 1e3 if len(t) else 0:.1f} ms "
            f"after filtering: shorter than one window ({pipeline.window_us / 1e3:.0f} ms), nothing to decide")
    out: dict[str, list] = {"scores": [], "prep_ms": [], "net_ms": [], "cpu_ms": [], "lag_ms": []}
    wall = time.perf_counter()
    clock = _Clock(realtime, int(ticks[0]), speed)
    with tqdm(total=len(ticks), desc=f"stream ({mode})", unit="tick", disable=not progress, leave=False) as bar:
        if mode == "window":
            _run_window(model, pipeline, ev, ticks, clock, out, bar)
        else:
            _run_continuous(model, pipeline, ev, ticks, clock, out, bar, step_us)
    scores = torch.stack(out["scores"])
    readout = getattr(model, "readout", "logits")
    return StreamResult(
        times_us=ticks, predictions=scores.argmax(-1).numpy(), confidence=confidence(scores, readout).numpy(),
        scores=scores.numpy(), prep_ms=np.asarray(out["prep_ms"]), net_ms=np.asarray(out["net_ms"]),
        cpu_ms=np.asarray(out["cpu_ms"]),
        lag_ms=np.asarray(out["lag_ms"]) if realtime else None, classes=list(classes), label=label, mode=mode,
        step_us=step_us, window_us=pipeline.window_us, T=pipeline.stc.T, events=len(raw), events_kept=len(ev),
        wall_s=time.perf_counter() - wall,
    )
