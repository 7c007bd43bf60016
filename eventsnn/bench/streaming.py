"""Streaming inference: events in as they arrive, a running prediction after every time step.

Window semantics (shared by the streaming and the offline path, which is why they agree):
time step ``k`` (0-based) of a recording covers the fixed interval
``[t0 + k * step_us, t0 + (k + 1) * step_us)`` µs, where ``t0`` is the timestamp of the first
event received after :meth:`StreamingClassifier.reset` (or a fixed ``t0`` given by the caller).
The offline equivalent of ``n`` streamed steps is STC with the explicit window
``t_start = t0``, ``t_end = t0 + n * step_us`` and ``T = n``
(:meth:`eventsnn.transforms.STC.window_frames`): its bin edges are
``t0 + ceil(k * (t_end - t_start) / n) = t0 + k * step_us``, exactly the streamed steps, also for
the fine bins of ``mode="exp"`` (``ratio`` fine bins per step) and for ``carry``.

The network runs one step at a time (:func:`eventsnn.run.step`: a multi-step call on
``[1, 1, P, H, W]``); the stateful layers (MT-LIF, synapses, SpikingJelly neurons, converted IF
layers) keep their state between calls until :func:`eventsnn.run.reset_state`, so the per-step outputs are those of the offline ``[T, 1, ...]`` call
(the network is causal). The running prediction after ``k`` steps is the argmax of the mean of
the first ``k`` per-step outputs - at the final step exactly the offline prediction.

Time to decision and early exit are computed from per-step outputs ``[T, B, C]`` by
:func:`decision_stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from eventsnn._deprecation import warn_deprecated
from eventsnn.errors import InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize, normalize_events
from eventsnn.functional.stc import stc_numpy
from eventsnn.run.forward import reset_state, run_model, step
from eventsnn.transforms import STC

__all__ = [
    "StepResult",
    "StreamingClassifier",
    "confidence",
    "decision_stats",
    "fixed_window_frames",
    "median_duration_us",
    "offline_outputs",
    "running_predictions",
    "step_us_for",
]


def confidence(mean_out: torch.Tensor, readout: str = "logits") -> torch.Tensor:
    """Confidence of the top class from time-averaged outputs ``[..., C]`` -> ``[...]``.

    ``readout="logits"``: the softmax probability of the top class. ``"rate"`` (spike-rate
    voting readouts): the top rate divided by the sum of the rates (0 when nothing fired).
    """
    if readout == "rate":
        total = mean_out.sum(-1)
        top = mean_out.max(-1).values
        return torch.where(total > 0, top / total.clamp_min(1e-12), torch.zeros_like(top))
    return torch.softmax(mean_out.float(), -1).max(-1).values


def running_predictions(outputs: torch.Tensor) -> torch.Tensor:
    """Per-step outputs ``[T, B, C]`` -> the running predictions ``[T, B]`` (step ``k``: argmax
    of the mean of the first ``k + 1`` outputs, as the offline path computes it)."""
    return torch.stack([outputs[: k + 1].mean(0).argmax(-1) for k in range(outputs.shape[0])])


@dataclass
class StepResult:
    """The state of the decision after one completed time step.

    Attributes:
        step: 1-based number of completed steps.
        t_end_us: end of the step's window (µs, sensor time).
        n_events: events of the recording that fell into this step.
        prediction: argmax of the mean per-step output so far.
        confidence: see :func:`confidence`.
        scores: mean per-step output so far, ``[C]``.
    """

    step: int
    t_end_us: int
    n_events: int
    prediction: int
    confidence: float
    scores: torch.Tensor


class StreamingClassifier:
    """Classify a recording while its events arrive, one fixed-duration time step at a time.

    Args:
        model: a network with ``[T, B, P, H, W] -> [T, B, C]`` forward whose stateful layers keep
            their state between calls (every eventsnn / SpikingJelly / converted model does).
        stc: STC settings of the model, with the recordings' sensor (``T`` is not used: steps
            are open-ended).
        step_us: duration of one time step, µs.
        t0: start of step 0, µs; ``None`` = the first event received after :meth:`reset`.
        readout: ``"logits"`` or ``"rate"`` (default ``model.readout``), for :func:`confidence`.
        device: where the network runs.

    The stream's state lives in the model's stateful layers: do not run the same model
    elsewhere between :meth:`reset` calls (or reset it again before streaming on).

    Example::

        sc = StreamingClassifier(model, STC.from_dict(info["config"]["stc"]), step_us=77_000)
        for chunk in chunks:                   # structured arrays, in time order
            for r in sc.push(chunk):
                print(r.step, r.prediction, r.confidence)
        final = sc.finish(n_steps=4)[-1]       # complete the remaining steps
        sc.reset()                             # before the next recording
    """

    def __init__(
        self,
        model: nn.Module,
        stc: STC,
        step_us: int,
        t0: int | None = None,
        readout: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.stc = stc
        self.sensor_size = stc.sensor_size
        if isinstance(step_us, bool) or int(step_us) != step_us or int(step_us) < 1:
            raise InvalidParameterError(f"step_us must be an integer >= 1 µs, got {step_us!r}")
        if self.stc.mode == "exp" and int(step_us) < self.stc.ratio:
            raise InvalidParameterError(f"step_us ({step_us}) must be >= ratio ({self.stc.ratio})")
        self.model = model.eval()
        self.step_us = int(step_us)
        self.fixed_t0 = None if t0 is None else int(t0)
        self.readout = readout or getattr(model, "readout", "logits")
        self.device = torch.device(device)
        self.reset()

    def reset(self) -> None:
        """Forget the recording: network state, buffered events, outputs."""
        reset_state(self.model)
        self.t0: int | None = self.fixed_t0
        self.steps_done = 0
        self._pending: list[np.ndarray] = []
        self._outputs: list[torch.Tensor] = []
        self._prev_frame: np.ndarray | None = None
        self.history: list[StepResult] = []

    @property
    def outputs(self) -> torch.Tensor:
        """Per-step outputs so far, ``[steps, C]``."""
        if not self._outputs:
            return torch.zeros(0)
        return torch.stack(self._outputs)

    @property
    def prediction(self) -> int | None:
        """The running prediction (None before the first step completes)."""
        return self.history[-1].prediction if self.history else None

    def _step_end(self, k: int) -> int:
        assert self.t0 is not None
        return self.t0 + (k + 1) * self.step_us

    @torch.no_grad()
    def _run_step(self) -> StepResult:
        k = self.steps_done
        start, end = self._step_end(k) - self.step_us, self._step_end(k)
        ev = np.concatenate(self._pending) if self._pending else np.zeros(0, EVENT_DTYPE)
        t = ev["t"]
        inside = (t >= start) & (t < end)
        step_ev = ev[inside]
        self._pending = [ev[t >= end]] if (t >= end).any() else []
        s = self.stc
        if len(step_ev):
            frame = stc_numpy(
                step_ev, s.sensor_size, 1, s.ratio, s.mode, s.decay, s.spatial_factor,
                s.merge_polarity, False, t_start=start, t_end=end, name=f"step {k + 1}",
            )
        else:
            frame = np.zeros(s.with_T(1).output_shape, np.float32)
        if s.mode == "exp" and s.carry and self._prev_frame is not None:
            frame[0] += np.float32(s.decay**s.ratio) * self._prev_frame
        self._prev_frame = frame[0]
        x = torch.from_numpy(frame).to(self.device)  # one sample's step [1, P, H, W]
        out = step(self.model, x)[0].float().cpu()
        self._outputs.append(out)
        mean = torch.stack(self._outputs).mean(0)
        self.steps_done += 1
        r = StepResult(
            step=self.steps_done, t_end_us=end, n_events=int(len(step_ev)),
            prediction=int(mean.argmax()), confidence=float(confidence(mean, self.readout)), scores=mean,
        )
        self.history.append(r)
        return r

    def push(self, events: np.ndarray, now: int | None = None) -> list[StepResult]:
        """Add a chunk of events; run every time step that is now complete.

        Args:
            events: structured array ``x, y, t, p`` (t in µs), later than earlier chunks.
            now: sensor time (µs) up to which every event has been delivered (default: the
                last timestamp of the chunk; events at exactly ``now`` may still come). Steps
                ending at or before ``now`` are complete.

        Returns:
            One :class:`StepResult` per step completed by this call (possibly none).
        """
        ev = normalize_events(events, "chunk")
        if len(ev):
            if self.t0 is None:
                self.t0 = int(ev["t"].min())
            early = ev["t"] < self.t0 + self.steps_done * self.step_us
            if early.any():
                raise InvalidParameterError(
                    f"chunk holds {int(early.sum())} event(s) earlier than the current step "
                    f"(t < {self.t0 + self.steps_done * self.step_us} µs): chunks must arrive in time order"
                )
            self._pending.append(np.ascontiguousarray(ev))
        if now is None:
            now = int(ev["t"].max()) if len(ev) else None
        return self.advance(now)

    def advance(self, now: int | None) -> list[StepResult]:
        """Run every step whose window ends at or before sensor time ``now`` (µs)."""
        done: list[StepResult] = []
        if now is None or self.t0 is None:
            return done
        while self._step_end(self.steps_done) <= now:
            done.append(self._run_step())
        return done

    def finish(self, n_steps: int) -> list[StepResult]:
        """Complete the steps up to ``n_steps`` (the end of the recording), empty or not."""
        if self.t0 is None:  # no event at all: steps start at 0
            self.t0 = 0
        done: list[StepResult] = []
        while self.steps_done < n_steps:
            done.append(self._run_step())
        return done


def fixed_window_frames(
    events: np.ndarray,
    stc: Any,
    sensor_size: SensorSize,
    step_us: int,
    n_steps: int,
    t0: int | None = None,
) -> np.ndarray:
    """Deprecated (one release): ``STC.window_frames(events, step_us, n_steps, t0)``.

    ``stc``: an :class:`~eventsnn.transforms.STC`, a settings dict or a deprecated
    ``eventsnn.compress.STCParams``, taken on ``sensor_size``.
    """
    warn_deprecated("eventsnn.bench.fixed_window_frames is deprecated, use STC.window_frames")
    if isinstance(stc, STC):
        stc = STC.from_dict(stc.to_dict(), sensor_size)
    elif isinstance(stc, Mapping):
        stc = STC.from_dict(stc, sensor_size)
    else:
        stc = stc.to_stc(sensor_size)
    return stc.window_frames(events, step_us, n_steps, t0)


@torch.no_grad()
def offline_outputs(
    model: nn.Module,
    recordings: Sequence[np.ndarray],
    stc: STC,
    step_us: int,
    n_steps: int,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Per-step outputs ``[n_steps, N, C]`` of ``model`` on the streaming windows of
    ``recordings`` (:meth:`STC.window_frames <eventsnn.transforms.STC.window_frames>`), batched
    (:func:`eventsnn.run.run_model`); what :class:`StreamingClassifier` computes one step and one
    recording at a time."""
    model.eval()
    batches = (torch.from_numpy(np.stack([stc.window_frames(r, step_us, n_steps) for r in recordings[s : s + batch_size]]))
               for s in range(0, len(recordings), batch_size))
    return run_model(model, batches, device=device)


def decision_stats(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    step_us: float,
    stable_steps: int = 2,
    confidence_threshold: float | None = None,
    readout: str = "logits",
) -> dict[str, Any]:
    """Time to decision and early-exit accuracy from per-step outputs.

    Args:
        outputs: ``[T, N, C]`` per-step outputs (causal: step ``k`` saw only steps ``<= k``).
        targets: ``[N]`` labels.
        step_us: duration of one step, µs (to express steps as sensor time).
        stable_steps: early exit once the running prediction has been the same for this many
            consecutive steps (``1`` exits after the first step).
        confidence_threshold: also exit once :func:`confidence` reaches this (None: off).
        readout: ``"logits"`` or ``"rate"``.

    Returns:
        ``accuracy`` (at the final step), ``accuracy_by_step`` (list over steps),
        ``decision_step_mean`` / ``_median`` (first step from which the running prediction
        never changes again, 1-based), ``decision_ms_mean``, ``decided_by_step`` (fraction of
        recordings already final after each step), ``early_exit_accuracy``,
        ``early_exit_step_mean``, ``early_exit_ms_mean``, and the rule's settings.
    """
    if stable_steps < 1:
        raise InvalidParameterError(f"stable_steps must be >= 1, got {stable_steps}")
    if confidence_threshold is not None and not 0.0 < confidence_threshold <= 1.0:
        raise InvalidParameterError(f"confidence threshold must be in (0, 1], got {confidence_threshold}")
    T, N = outputs.shape[:2]
    targets = targets.long()
    csum = outputs.float().cumsum(0)
    steps = torch.arange(1, T + 1, dtype=torch.float32).view(T, 1, 1)
    means = csum / steps
    preds = running_predictions(outputs)  # [T, N], exactly as offline
    conf = confidence(means, readout)  # [T, N]
    final = preds[-1]
    same_as_final = preds == final
    # decision step: 1 + last step index where the prediction differs from the final one
    differs = ~same_as_final
    idx = torch.arange(T).view(T, 1).expand(T, N)
    last_diff = torch.where(differs, idx, torch.full_like(idx, -1)).max(0).values
    decision = last_diff + 2  # 1-based first step of the final run
    # early exit
    run = torch.ones(T, N, dtype=torch.long)
    for k in range(1, T):
        run[k] = torch.where(preds[k] == preds[k - 1], run[k - 1] + 1, torch.ones_like(run[k]))
    stop = run >= stable_steps
    if confidence_threshold is not None:
        stop |= conf >= confidence_threshold
    stop[-1] = True
    exit_idx = stop.float().argmax(0)  # first True
    exit_pred = preds.gather(0, exit_idx.view(1, N))[0]
    acc_by_step = (preds == targets.view(1, N)).sum(1).double() / N
    decided = torch.stack([(decision <= k + 1).float().mean() for k in range(T)])
    ms = float(step_us) / 1000.0
    return {
        "accuracy": float(acc_by_step[-1]),
        "accuracy_by_step": [float(a) for a in acc_by_step],
        "decision_step_mean": float(decision.float().mean()),
        "decision_step_median": float(decision.float().median()),
        "decision_ms_mean": float(decision.float().mean()) * ms,
        "decided_by_step": [float(d) for d in decided],
        "early_exit_accuracy": int((exit_pred == targets).sum()) / N,
        "early_exit_step_mean": float((exit_idx + 1).float().mean()),
        "early_exit_ms_mean": float((exit_idx + 1).float().mean()) * ms,
        "stable_steps": int(stable_steps),
        "confidence_threshold": confidence_threshold,
        "step_ms": ms,
        "n_steps": int(T),
        "window_ms": T * ms,
    }


def median_duration_us(recordings: Sequence[np.ndarray]) -> int:
    """Median of ``last - first + 1`` timestamp (µs) over non-empty recordings."""
    d = [int(r["t"].max()) - int(r["t"].min()) + 1 for r in recordings if len(r)]
    if not d:
        raise InvalidParameterError("all recordings are empty: cannot choose a step duration")
    return int(np.median(d))


def step_us_for(recordings: Sequence[np.ndarray], T: int) -> int:
    """Step duration so that ``T`` steps span the median recording: ``ceil(median / T)`` µs."""
    return int(math.ceil(median_duration_us(recordings) / int(T)))
