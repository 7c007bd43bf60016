"""Multi-threshold LIF (MT-LIF) dynamics and the synaptic current as pure functions.

Reconstruction of Xu et al. (2022), ``papers.md`` §1.4c. Modules in :mod:`eventsnn.nn` wrap these
functions; nothing here keeps state (Norse's functional style: state goes in and comes out).

Neuron (one time step, membrane ``v`` in the same units as the input current ``x``)::

    k = sigmoid(w) = 1 / tau                                  (PLIF parametrisation)
    h = v + k * (x - (v - v_rest))          if decay_input    (charge)
    h = v - k * (v - v_rest) + x            otherwise
    s = clip(floor(h / theta), 0, K)        graded spike in {0..K}; K = 1: s = H(h - theta)
    v = h - theta * s                       reset == "soft"
    v = v_reset where s > 0, else h         reset == "hard"

``v_rest`` is ``v_reset`` for a hard reset and 0 for a soft reset, exactly as SpikingJelly's
``ParametricLIFNode`` (``v_reset=None`` there means soft reset), so ``K = 1`` reproduces it.

Surrogate gradient (:mod:`eventsnn.functional.surrogate`): ``ds/dh = sum_{k=1..K} g(h - k*theta)``
where ``g`` is one of :data:`SURROGATES`, each integrating to 1 and peaking at ``1 / width``
(``width`` in membrane units; ``width=1`` gives SpikingJelly's defaults). With a hard reset the
reset gate ``H(h - theta)`` uses ``g(h - theta)``. ``detach_reset`` cuts the gradient through the
reset (as SpikingJelly).

``w`` is a scalar (one tau per layer) or a vector of ``C`` values (one tau per channel), broadcast
on the channel dimension: dim 2 of ``[T, B, C, ...]`` sequences, dim 1 of ``[B, C, ...]`` steps.

Synaptic current (the state of the SCB, ``papers.md`` §1.4b): ``I[t] = sigmoid(a) I[t-1] + x[t]``.

Two implementations of each multi-step dynamics over ``[T, ...]`` give the same values and
gradients: the ``*_reference`` functions (plain autograd over the time loop, the readable
definition) and :func:`mtlif_multistep` / :func:`synapse_multistep`, which hand the work to the
custom autograd Functions of :mod:`eventsnn.functional._neuron_kernel` (no graph in forward, a
hand-written BPTT loop in backward; on CPU cache-sized chunks of neurons on a small thread pool,
tuned by ``EVENTSNN_MTLIF_CHUNK``; see ``benchmarks/bench_mtlif.py`` for their speed against
SpikingJelly). Both are device-agnostic (CPU and CUDA).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.functional._neuron_kernel import MTLIFFunction, SynapseFunction, channel_view
from eventsnn.functional.surrogate import SURROGATES, SurrogateName, spike_fn, surrogate_grad

__all__ = [
    "SURROGATES",
    "mtlif_cpu_chunk",
    "MTLIFParams",
    "surrogate_grad",
    "spike_fn",
    "init_w",
    "tau_from_w",
    "mtlif_step",
    "mtlif_multistep",
    "mtlif_multistep_reference",
    "synapse_multistep",
    "synapse_multistep_reference",
    "synapse_step",
]

ResetMode = Literal["soft", "hard"]


@dataclass(frozen=True)
class MTLIFParams:
    """Static (non-tensor) settings of an MT-LIF layer.

    Attributes:
        n_thresholds: K >= 1; graded spikes take values in {0..K}.
        v_threshold: theta > 0, the first threshold (membrane units); thresholds are theta..K*theta.
        reset: "soft" (subtract theta*s) or "hard" (set to ``v_reset`` where s > 0).
        v_reset: reset and rest potential of the hard reset (ignored by the soft reset, whose
            rest potential is 0).
        surrogate: one of :data:`SURROGATES`.
        width: surrogate width in membrane units (> 0).
        decay_input: charge ``h = v + k(x - v)`` (True) or ``h = (1-k) v + x`` (False).
        detach_reset: no gradient through the reset.
    """

    n_thresholds: int = 1
    v_threshold: float = 1.0
    reset: ResetMode = "soft"
    v_reset: float = 0.0
    surrogate: SurrogateName = "rectangular"
    width: float = 1.0
    decay_input: bool = True
    detach_reset: bool = False

    def __post_init__(self) -> None:
        if int(self.n_thresholds) != self.n_thresholds or self.n_thresholds < 1:
            raise InvalidParameterError(f"n_thresholds must be an integer >= 1, got {self.n_thresholds}")
        if not (self.v_threshold > 0 and math.isfinite(self.v_threshold)):
            raise InvalidParameterError(f"v_threshold must be a finite number > 0, got {self.v_threshold}")
        if self.reset not in ("soft", "hard"):
            raise InvalidParameterError(f"reset must be 'soft' or 'hard', got {self.reset!r}")
        if not math.isfinite(self.v_reset):
            raise InvalidParameterError(f"v_reset must be finite, got {self.v_reset}")
        if self.reset == "hard" and self.v_reset >= self.v_threshold:
            raise InvalidParameterError(
                f"v_reset ({self.v_reset}) must be below v_threshold ({self.v_threshold})"
            )
        if self.surrogate not in SURROGATES:
            raise InvalidParameterError(
                f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}"
            )
        if not (self.width > 0 and math.isfinite(self.width)):
            raise InvalidParameterError(f"surrogate width must be a finite number > 0, got {self.width}")

    @property
    def v_rest(self) -> float:
        """Potential the membrane leaks towards (and starts at)."""
        return self.v_reset if self.reset == "hard" else 0.0


# ----------------------------------------------------------------------------------------------
# tau parametrisation


def init_w(init_tau: float) -> float:
    """``w0 = -ln(tau0 - 1)`` so that ``sigmoid(w0) = 1 / tau0`` (requires ``tau0 > 1``)."""
    if not init_tau > 1.0:
        raise InvalidParameterError(f"init_tau must be > 1, got {init_tau}")
    return -math.log(init_tau - 1.0)


def tau_from_w(w: torch.Tensor) -> torch.Tensor:
    """Membrane time constant(s) ``tau = 1 / sigmoid(w)`` (in time steps)."""
    return 1.0 / torch.sigmoid(w)


# ----------------------------------------------------------------------------------------------
# reference (autograd) implementation


def mtlif_step(
    x: torch.Tensor, v: torch.Tensor, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MT-LIF step with autograd: ``x, v: [B, C, ...]`` -> ``(s, v_next)``, same shapes.

    Used by single-step mode and by the reference multi-step implementation.
    """
    k = channel_view(torch.sigmoid(w), x.ndim)
    rest = p.v_rest
    if p.decay_input:
        h = v + k * (x - (v - rest))
    else:
        h = v - k * (v - rest) + x
    s = spike_fn(h, p.v_threshold, p.n_thresholds, p.surrogate, p.width)
    if p.reset == "soft":
        s_r = s.detach() if p.detach_reset else s
        v_next = h - p.v_threshold * s_r
    else:
        # reset gate H(h - theta) with the surrogate of the first threshold
        gate = s if p.n_thresholds == 1 else spike_fn(h, p.v_threshold, 1, p.surrogate, p.width)
        if p.detach_reset:
            gate = gate.detach()
        v_next = (1.0 - gate) * h + gate * p.v_reset
    return s, v_next


def mtlif_multistep_reference(
    x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference multi-step MT-LIF (a Python loop over :func:`mtlif_step`, plain autograd).

    Args:
        x_seq: input current ``[T, B, C, ...]`` (or ``[T, N]`` with a scalar ``w``).
        v0: initial membrane ``[B, C, ...]``, or None for ``v_rest`` everywhere.
        w: scalar or ``[C]`` parameter, ``1/tau = sigmoid(w)``.
    Returns:
        ``(spikes [T, B, C, ...] in {0..K}, final membrane [B, C, ...])``.
    """
    v = torch.full_like(x_seq[0], p.v_rest) if v0 is None else v0
    out = []
    for t in range(x_seq.shape[0]):
        s, v = mtlif_step(x_seq[t], v, w, p)
        out.append(s)
    return torch.stack(out), v


# ----------------------------------------------------------------------------------------------
# fast path (the kernels of eventsnn.functional._neuron_kernel)


def mtlif_multistep(
    x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast multi-step MT-LIF (custom autograd Function); same contract as
    :func:`mtlif_multistep_reference`: ``x_seq [T, B, C, ...]`` -> ``(spikes, v_T [B, C, ...])``.
    """
    if x_seq.ndim < 2:
        raise InvalidParameterError(f"x_seq must be [T, B, ...], got shape {tuple(x_seq.shape)}")
    if w.ndim == 1 and (x_seq.ndim < 3 or x_seq.shape[2] != w.shape[0]):
        raise InvalidParameterError(
            f"per-channel w has {w.shape[0]} channels but x_seq {tuple(x_seq.shape)} has dim 2 "
            f"= {x_seq.shape[2] if x_seq.ndim > 2 else None}"
        )
    return MTLIFFunction.apply(x_seq, v0, w, p)


# ----------------------------------------------------------------------------------------------
# first-order synaptic current


def synapse_multistep(
    x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor
) -> torch.Tensor:
    """Synaptic current ``I[t] = sigmoid(a) * I[t-1] + x[t]`` for ``x_seq [T, B, C, ...]``.

    ``i0`` is the current before the first step (None = 0); returns ``I [T, B, C, ...]``
    (``I[-1]`` is the state to carry on).
    """
    if a.ndim == 1 and (x_seq.ndim < 3 or x_seq.shape[2] != a.shape[0]):
        raise InvalidParameterError(
            f"per-channel alpha has {a.shape[0]} channels but x_seq is {tuple(x_seq.shape)}"
        )
    return SynapseFunction.apply(x_seq, i0, a)


def synapse_multistep_reference(
    x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor
) -> torch.Tensor:
    """Plain-autograd reference of :func:`synapse_multistep`."""
    al = channel_view(torch.sigmoid(a), x_seq.ndim - 1)
    cur = torch.zeros_like(x_seq[0]) if i0 is None else i0
    out = []
    for t in range(x_seq.shape[0]):
        cur = al * cur + x_seq[t]
        out.append(cur)
    return torch.stack(out)


def synapse_step(x: torch.Tensor, i: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:
    """One step ``I = sigmoid(a) * i + x`` for ``x [B, C, ...]`` (``i`` None = 0)."""
    if i is None:
        return x
    return channel_view(torch.sigmoid(a), x.ndim) * i + x


def mtlif_cpu_chunk() -> int:
    """Elements per time step of one chunk of the CPU kernels (the work one worker thread owns
    through the whole time loop): ``EVENTSNN_MTLIF_CHUNK``, read once at import, default 65536;
    0 = no chunking, no thread pool."""
    from eventsnn.functional import _neuron_kernel

    return int(_neuron_kernel.CPU_CHUNK)


# ----------------------------------------------------------------------------------------------
# names that moved out of this module (kept importable from here; they read the live value)

_MOVED = {
    "_channel_view": ("eventsnn.functional._neuron_kernel", "channel_view"),
    "_alpha_view": ("eventsnn.functional._neuron_kernel", "channel_view"),
    "_CPU_CHUNK": ("eventsnn.functional._neuron_kernel", "CPU_CHUNK"),
    "_MAX_WORKERS_CAP": ("eventsnn.functional._neuron_kernel", "MAX_WORKERS_CAP"),
    **{name: ("eventsnn.functional._neuron_kernel", name) for name in (
        "_rows_view", "_n_workers", "_chunk_bounds", "_POOL", "_POOL_LOCK", "_run_chunks",
        "_reset_pool_after_fork", "_no_grad_call", "_add_scaled", "_dot_like")},
    "_surrogate_into": ("eventsnn.functional.surrogate", "surrogate_into"),
    "_compact": ("eventsnn.functional.surrogate", "windows_disjoint"),
    "_graded_grad_into": ("eventsnn.functional.surrogate", "graded_grad_into"),
    "_graded_grad": ("eventsnn.functional.surrogate", "graded_grad"),
    "_graded": ("eventsnn.functional.surrogate", "graded"),
    "_SpikeFunction": ("eventsnn.functional.surrogate", "_SpikeFunction"),
}


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`eventsnn.functional._neuron_kernel` or
    :mod:`eventsnn.functional.surrogate` (read from there, so module state stays live)."""
    if name in _MOVED:
        module, attr = _MOVED[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
