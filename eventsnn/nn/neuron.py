"""Multi-threshold LIF neuron layer (MT-LIF) with a learnable membrane time constant.

A thin stateful wrapper around :mod:`eventsnn.functional.neuron` following SpikingJelly's
conventions: it subclasses :class:`spikingjelly.activation_based.base.MemoryModule`, so
``spikingjelly.activation_based.functional.reset_net(net)`` resets its membrane ``v`` and
``functional.set_step_mode(net, 's'|'m')`` switches it between

- ``step_mode='m'``: input ``[T, B, C, ...]`` -> graded spikes ``[T, B, C, ...]`` in {0..K};
- ``step_mode='s'``: input ``[B, C, ...]`` -> spikes ``[B, C, ...]``; the membrane is kept between
  calls (streaming inference) until ``reset()``.

The membrane persists across multi-step calls too (like SpikingJelly): call ``reset_net`` between
independent samples. MT-LIF is a registered spiking-neuron type (:mod:`eventsnn.nn.registry`).
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import base
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.functional.neuron import (
    MTLIFParams,
    init_w,
    mtlif_multistep,
    mtlif_multistep_reference,
    mtlif_step,
    tau_from_w,
)
from eventsnn.nn.registry import NeuronDynamics, register_neuron

__all__ = ["MTLIF"]


def _dynamics(m: MTLIF) -> NeuronDynamics:
    """What :func:`eventsnn.nn.registry.neuron_dynamics` reports for an MT-LIF layer."""
    p = m.params
    return NeuronDynamics(
        label="MTLIF", v_threshold=p.v_threshold, n_thresholds=p.n_thresholds, model="lif",
        tau=tau_from_w(m.w.detach().double().cpu()), init_tau=m.init_tau,
        decay_input=p.decay_input, reset=p.reset, v_reset=p.v_reset, v_rest=p.v_rest,
        v_init=p.v_rest,
    )


@register_neuron(describe=_dynamics)
class MTLIF(base.MemoryModule):
    """Multi-threshold leaky integrate-and-fire neurons (graded spikes ``s`` in {0..K}).

    Args:
        n_thresholds: K, the number of thresholds ``theta, 2theta, .., K*theta`` (K = 1: PLIF).
        v_threshold: theta, membrane units.
        init_tau: initial membrane time constant tau0 > 1 (time steps); ``w0 = -ln(tau0 - 1)``.
        learn_tau: make ``w`` (``1/tau = sigmoid(w)``) a trainable parameter (else a buffer).
        per_channel: one tau per channel (``w`` of shape ``[n_channels]``, broadcast on the
            channel dim: dim 2 of ``[T, B, C, ...]``, dim 1 of ``[B, C, ...]``).
        n_channels: C, required when ``per_channel``.
        reset: "soft" (``v -= theta*s``) or "hard" (``v = v_reset`` where ``s > 0``).
        v_reset: hard-reset (and rest) potential.
        surrogate: "rectangular" | "triangular" | "arctan" | "sigmoid".
        surrogate_width: width of the surrogate window, membrane units (peak = 1/width).
        decay_input: ``h = v + k(x - v)`` (True, PLIF default) or ``h = (1-k)v + x``.
        detach_reset: no gradient through the reset.
        step_mode: "m" (multi-step) or "s" (single-step).
        backend: "fast" (custom autograd Function, default) or "reference" (plain autograd).

    Attributes:
        v: membrane ``[B, C, ...]`` after the last step, or None after a reset (= ``v_rest``).
        record: when True, the last output spikes are stored (detached) in ``last_spikes``.
    """

    def __init__(
        self,
        n_thresholds: int = 1,
        v_threshold: float = 1.0,
        init_tau: float = 2.0,
        learn_tau: bool = True,
        per_channel: bool = False,
        n_channels: int | None = None,
        reset: str = "soft",
        v_reset: float = 0.0,
        surrogate: str = "rectangular",
        surrogate_width: float = 1.0,
        decay_input: bool = True,
        detach_reset: bool = False,
        step_mode: str = "m",
        backend: str = "fast",
    ) -> None:
        super().__init__()
        self.params = MTLIFParams(
            n_thresholds=int(n_thresholds), v_threshold=float(v_threshold), reset=reset,
            v_reset=float(v_reset), surrogate=surrogate, width=float(surrogate_width),
            decay_input=bool(decay_input), detach_reset=bool(detach_reset),
        )
        if per_channel and (n_channels is None or n_channels < 1):
            raise InvalidParameterError("per_channel=True needs n_channels >= 1")
        if backend not in ("fast", "reference"):
            raise InvalidParameterError(f"backend must be 'fast' or 'reference', got {backend!r}")
        self.backend = backend
        self.init_tau = float(init_tau)
        shape = (int(n_channels),) if per_channel else ()
        w = torch.full(shape, init_w(self.init_tau))
        if learn_tau:
            self.w = nn.Parameter(w)
        else:
            self.register_buffer("w", w)
        self.per_channel = bool(per_channel)
        self.record = False
        self.last_spikes: torch.Tensor | None = None
        self.register_memory("v", None)
        self.step_mode = step_mode

    @property
    def tau(self) -> torch.Tensor:
        """Membrane time constant(s) ``1/sigmoid(w)``, scalar or ``[C]`` (time steps)."""
        return tau_from_w(self.w.detach())

    def _store(self, s: torch.Tensor) -> torch.Tensor:
        if self.record:
            self.last_spikes = s.detach()
        return s

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x [B, C, ...]`` -> spikes ``[B, C, ...]``; updates ``self.v``."""
        v = self.v
        if v is None:
            v = torch.full_like(x, self.params.v_rest)
        s, self.v = mtlif_step(x, v, self.w, self.params)
        return self._store(s)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x_seq [T, B, C, ...]`` -> spikes ``[T, B, C, ...]``; ``self.v`` = final membrane."""
        fn = mtlif_multistep if self.backend == "fast" else mtlif_multistep_reference
        s, self.v = fn(x_seq, self.v, self.w, self.params)
        return self._store(s)

    def extra_repr(self) -> str:
        p = self.params
        tau = self.tau
        tau_s = f"{tau.item():.3g}" if tau.ndim == 0 else f"[{tau.numel()} channels]"
        return (
            f"K={p.n_thresholds}, v_threshold={p.v_threshold}, tau={tau_s}, reset={p.reset}, "
            f"surrogate={p.surrogate}({p.width}), decay_input={p.decay_input}, "
            f"detach_reset={p.detach_reset}, step_mode={self.step_mode}, backend={self.backend}"
        )
