"""Integrate-and-fire simulation of a converted network.

:class:`IFNeuron` is a non-leaky integrate-and-fire layer with reset by subtraction (soft reset)
and an initial membrane potential of 0 or θ/2. It emits binary spikes, which are multiplied by
its threshold θ on the way out so that the next layer's (ANN) weights apply unchanged: the
time-average of the output approximates the ANN activation, ``rate = θ·#spikes/T``.

Layers run in SpikingJelly's multi-step layout: a layer receives the whole sequence at once.
Stateless layers (convolutions, pooling, additions) see the time steps folded into the batch,
``[T*B, ...]``; the neuron unfolds them to ``[T, B, ...]`` (it knows T from :attr:`IFNeuron.T`,
set by :class:`SpikingNetwork`). This keeps every convolution one big batched call.

:class:`SpikingNetwork` wraps a converted body and provides the multi-step forward
``[T, B, C, H, W] -> [T, B, n_classes]`` (per-step output, prediction = mean over T) used by
evaluation and ``eventsnn bench``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from spikingjelly.activation_based import base
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.registry import NeuronDynamics, register_neuron

V_INITS = ("zero", "half")


def _initial_v(like: torch.Tensor, threshold: torch.Tensor | float, v_init: str) -> torch.Tensor:
    if v_init not in V_INITS:
        raise InvalidParameterError(f"v_init must be one of {V_INITS}, got {v_init!r}")
    v = torch.zeros_like(like)
    if v_init == "half":
        v += 0.5 * threshold
    return v


def _if_step(v: torch.Tensor, x: torch.Tensor, threshold: torch.Tensor | float,
             spike: torch.Tensor, fired: torch.Tensor, neg: torch.Tensor | None,
             count: torch.Tensor | None) -> None:
    """One IF time step in place: ``v += x``, the spike (0/1, or -1 when ``neg`` buffers are given
    for signed neurons) goes to ``spike``, then reset by subtraction; ``count`` (signed: the
    spikes so far) is updated."""
    v += x
    torch.ge(v, threshold, out=fired)
    spike.copy_(fired)
    if neg is not None:
        torch.logical_and(v < 0, count > 0, out=neg)
        spike.sub_(neg.to(spike.dtype))
    if count is not None:
        count += spike
    if isinstance(threshold, float):
        v.sub_(spike, alpha=threshold)
    else:
        v -= spike * threshold


def if_multistep(x_seq: torch.Tensor, threshold: torch.Tensor | float,
                 v: torch.Tensor | None = None, v_init: str = "half", signed: bool = False,
                 count: torch.Tensor | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulate IF neurons with reset by subtraction over the first axis.

    Args:
        x_seq: input current ``[T, ...]`` (one value per neuron and time step).
        threshold: θ, a scalar (float or 0-d tensor) or a tensor broadcastable to ``x_seq[0]``.
        v: membrane potential ``[...]`` to start from; ``None`` starts at 0 or θ/2.
        v_init: ``"zero"`` or ``"half"`` (used only when ``v`` is None).
        signed: signed IF neurons (Wang et al. 2022 "signed neuron with memory"; Hu et al.,
            Fast-SNN): besides the positive spike (``v >= θ``, then ``v -= θ``) a neuron whose
            spikes so far sum to more than 0 emits a negative spike when ``v < 0`` (then
            ``v += θ``), so it takes back a spike that later (e.g. inhibitory) input shows was
            premature. Its output count then follows the integrated input instead of its first
            part only, which removes most of the deviation error at low T.
        count: with ``signed``, the spikes emitted so far ``[...]`` (streaming state; updated in
            place); ``None`` starts from 0.

    Returns:
        ``(spikes [T, ...] in {0, 1} (or {-1, 0, 1} when signed), final membrane potential
        [...])``.
    """
    if isinstance(threshold, torch.Tensor) and threshold.numel() == 1:
        threshold = float(threshold)
    v = _initial_v(x_seq[0], threshold, v_init) if v is None else v.clone()
    spikes = torch.empty_like(x_seq)
    fired = torch.empty(x_seq.shape[1:], dtype=torch.bool, device=x_seq.device)
    if signed and count is None:
        count = torch.zeros_like(v)
    neg = torch.empty_like(fired) if signed else None
    for t in range(x_seq.shape[0]):
        _if_step(v, x_seq[t], threshold, spikes[t], fired, neg, count)
    return spikes, v


def if_rate(x_seq: torch.Tensor, threshold: float, v_init: str = "half",
            signed: bool = False) -> torch.Tensor:
    """Output rate ``θ·(spike count)/T`` ``[...]`` of IF neurons driven by ``x_seq`` ``[T, ...]``
    (same dynamics as :func:`if_multistep` with a scalar θ, without storing the spike train)."""
    threshold = float(threshold)
    v = _initial_v(x_seq[0], threshold, v_init)
    count = torch.zeros_like(v)
    s = torch.empty_like(v)
    fired = torch.empty(v.shape, dtype=torch.bool, device=v.device)
    neg = torch.empty_like(fired) if signed else None
    for t in range(x_seq.shape[0]):
        _if_step(v, x_seq[t], threshold, s, fired, neg, count)
    return count.mul_(threshold / x_seq.shape[0])


def cumulative_mean(out_seq: torch.Tensor) -> torch.Tensor:
    """``[T, ...] -> [T, ...]``: entry t is the mean of steps 0..t (the read-out after t+1 steps)."""
    steps = torch.arange(1, out_seq.shape[0] + 1, device=out_seq.device, dtype=out_seq.dtype)
    return out_seq.cumsum(0) / steps.view(-1, *([1] * (out_seq.dim() - 1)))


def _dynamics(m: IFNeuron) -> NeuronDynamics:
    """What :func:`eventsnn.nn.registry.neuron_dynamics` reports for an IF layer: no leak, reset
    by subtraction, output ``θ·spike``."""
    theta = float(m.threshold)
    return NeuronDynamics(
        label="IF neuron of a converted net", v_threshold=theta, model="if", reset="soft",
        v_init=0.5 * theta if m.v_init == "half" else 0.0, output_scale=theta,
        hard_reset_hint="converted nets always reset by subtraction; ",
    )


@register_neuron(describe=_dynamics)
class IFNeuron(base.MemoryModule):
    """IF layer, reset by subtraction; input ``[T*B, ...]`` (``T = self.T``) -> ``θ·spikes``.

    State ``v`` persists across calls (streaming) until ``reset()``
    (``spikingjelly.activation_based.functional.reset_net`` calls it). A registered
    spiking-neuron type (:mod:`eventsnn.nn.registry`).

    Attributes:
        threshold: θ (buffer, scalar).
        bias: per-channel input current added at every step (buffer ``[C]``, or empty ``[0]``
            when unused; set by bias calibration).
        v_init: ``"zero"`` or ``"half"`` initial membrane potential.
        signed: also emit negative spikes (see :func:`if_multistep`); the events stay binary
            (one synaptic accumulate each, with the sign of the weight flipped).
        T: number of time steps folded into the batch axis of the input.
        binary_spikes: always True: the layer emits 0/±1 events (scaled by θ on output).
        last_spikes, last_neurons: spike count and neuron count ``B·C·H·W`` of the last forward,
            recorded when ``record`` is True (for synaptic-operation counts).
    """

    binary_spikes = True

    def __init__(self, threshold: float = 1.0, v_init: str = "half", T: int = 1,
                 signed: bool = False) -> None:
        super().__init__()
        if v_init not in V_INITS:
            raise InvalidParameterError(f"v_init must be one of {V_INITS}, got {v_init!r}")
        self.register_buffer("threshold", torch.tensor(float(threshold)))
        self.register_buffer("bias", torch.zeros(0))
        self.v_init = v_init
        self.signed = bool(signed)
        self.T = T
        self.record = False
        self.last_spikes = 0.0
        self.last_neurons = 0
        self.register_memory("v", None)
        self.register_memory("count", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.T
        if x.shape[0] % T:
            raise InvalidParameterError(
                f"IFNeuron: leading axis {x.shape[0]} is not a multiple of T={T}")
        x = self.add_bias(x)
        x_seq = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        v = self.v if isinstance(self.v, torch.Tensor) and self.v.shape == x_seq.shape[1:] else None
        count = None
        if self.signed:
            count = self.count if v is not None and isinstance(self.count, torch.Tensor) else None
            count = torch.zeros_like(x_seq[0]) if count is None else count
            self.count = count
        spikes, self.v = if_multistep(x_seq, self.threshold, v, self.v_init, self.signed, count)
        if self.record:
            self.last_spikes = float(spikes.abs().sum())
            self.last_neurons = spikes[0].numel()
        return (spikes * self.threshold).reshape(x.shape)

    def add_bias(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, C, ...]`` plus the per-channel bias current (if any)."""
        if self.bias.numel() == 0:
            return x
        return x + self.bias.view(-1, *([1] * (x.dim() - 2)))

    def extra_repr(self) -> str:
        extra = f", bias[{self.bias.numel()}]" if self.bias.numel() else ""
        signed = ", signed" if self.signed else ""
        return (f"threshold={float(self.threshold):.4f}, v_init={self.v_init}, T={self.T}"
                f"{signed}{extra}")


class SpikingNetwork(nn.Module):
    """A converted SNN: ``body`` is the folded ANN with every activation replaced by IFNeuron.

    ``forward(x [T, B, C, H, W]) -> [T, B, n_classes]`` (per-step outputs; the prediction is the
    mean over T). Call :meth:`reset` (or ``reset_net``) between independent sequences.

    Attributes:
        body: the network (input ``[N, C, H, W]``, output ``[N, n_classes]``).
        arch: the ANN's :class:`~eventsnn.convert.models.ModelConfig` as a dict.
        options: conversion options (``T``, ``v_init``, ``residual``, ``threshold``, ...).
        mean, std: per-channel input normalisation the ANN was trained with.
    """

    def __init__(self, body: nn.Module, arch: dict, options: dict,
                 mean: list[float] | None = None, std: list[float] | None = None) -> None:
        super().__init__()
        self.body = body
        self.arch = dict(arch)
        self.options = dict(options)
        self.mean = list(mean) if mean is not None else None
        self.std = list(std) if std is not None else None
        self.T = int(options.get("T", 1))

    def spiking_layers(self) -> list[tuple[str, IFNeuron]]:
        """``(name, module)`` of every IF layer, in execution order (all emit binary spikes)."""
        return [(n, m) for n, m in self.body.named_modules() if isinstance(m, IFNeuron)]

    def neurons(self) -> Iterator[IFNeuron]:
        for _, m in self.spiking_layers():
            yield m

    def thresholds(self) -> dict[str, float]:
        return {n: float(m.threshold) for n, m in self.spiking_layers()}

    def reset(self) -> None:
        for m in self.neurons():
            m.reset()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W] -> [T, B, n_classes]`` (state kept until :meth:`reset`)."""
        if x_seq.dim() < 3:
            raise InvalidParameterError(f"expected [T, B, ...] input, got shape {tuple(x_seq.shape)}")
        T, B = x_seq.shape[:2]
        for m in self.neurons():
            m.T = T
        out = self.body(x_seq.reshape(T * B, *x_seq.shape[2:]))
        return out.reshape(T, B, *out.shape[1:])

    @torch.no_grad()
    def forward_static(self, images: torch.Tensor, T: int | None = None) -> torch.Tensor:
        """Static images ``[B, C, H, W]`` presented for T steps (direct input current) ->
        per-step outputs ``[T, B, n_classes]``; resets the state first."""
        T = self.T if T is None else int(T)
        self.reset()
        out = self(images.unsqueeze(0).expand(T, *images.shape))
        self.reset()
        return out

    def extra_repr(self) -> str:
        return f"arch={self.arch.get('arch')}, T={self.T}, options={self.options}"
