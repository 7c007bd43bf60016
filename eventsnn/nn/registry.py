"""Spiking-neuron layer types, declared once and discovered everywhere.

Two kinds of layer matter to the rest of the package:

- **stateful** layers keep state between time steps: every one is a SpikingJelly
  :class:`~spikingjelly.activation_based.base.MemoryModule` (so ``reset_net`` clears it): MT-LIF,
  the synaptic current, SpikingJelly neurons, the IF neurons of converted networks;
- **spiking neurons**, the stateful layers whose outputs are spikes, are the types registered
  here with :func:`register_neuron`. Whoever inspects a network (``spike_layers``, the cost
  meter's activation sparsity, the pictures of :mod:`eventsnn.viz`, the NIR exporter) asks
  :func:`is_neuron` and reads a layer through :func:`neuron_dynamics`, so a new neuron type is
  registered once, where it is defined, and nothing else changes::

      @register_neuron(describe=lambda m: NeuronDynamics(label="MyLIF", v_threshold=m.theta,
                                                         model="lif", tau=m.tau.double()))
      class MyLIF(base.MemoryModule): ...

Registered here: SpikingJelly's ``BaseNode`` (all its neurons). :class:`eventsnn.nn.MTLIF`
registers itself; so does ``eventsnn.convert.ifsim.IFNeuron`` (``convert`` builds on ``nn``,
never the other way round). The registry is filled at import time, by the modules that define
the types, and only read afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, overload

import torch
from spikingjelly.activation_based import base
from spikingjelly.activation_based import neuron as sj_neuron
from torch import nn

from eventsnn.errors import InvalidParameterError

__all__ = ["NeuronDynamics", "register_neuron", "is_neuron", "is_stateful", "neuron_dynamics",
           "neuron_types"]

NeuronModel = Literal["lif", "if", "other"]


@dataclass(frozen=True)
class NeuronDynamics:
    """What one layer of spiking neurons computes per time step (membrane units, time steps)::

        "lif":  h = v + (x - (v - v_rest)) / tau     (decay_input)
                h = v - (v - v_rest) / tau + x       (otherwise)
        "if":   h = v + x
        s = clip(floor(h / v_threshold), 0, n_thresholds)
        v = h - v_threshold * s                      (reset "soft")
        v = v_reset where s > 0, else h              (reset "hard")
        output = output_scale * s

    Attributes:
        label: how messages name the layer type, e.g. ``"MTLIF"``.
        v_threshold: theta, the first threshold.
        n_thresholds: K (spikes in {0..K}; 1: binary spikes).
        model: ``"lif"``, ``"if"``, or ``"other"`` (dynamics not described beyond theta and K).
        tau: membrane time constant(s) in time steps, a float64 CPU tensor (scalar or ``[C]``),
            for ``"lif"``; None otherwise.
        init_tau: the tau the layer was built with, when known.
        decay_input, reset, v_reset, v_rest: see the equations.
        v_init: membrane before the first step.
        output_scale: the layer outputs ``output_scale * s`` (theta for converted IF layers).
        hard_reset_hint: how to avoid a soft reset, said where one cannot be expressed.
    """

    label: str
    v_threshold: float
    n_thresholds: int = 1
    model: NeuronModel = "other"
    tau: torch.Tensor | None = None
    init_tau: float | None = None
    decay_input: bool = True
    reset: Literal["soft", "hard"] = "hard"
    v_reset: float = 0.0
    v_rest: float = 0.0
    v_init: float = 0.0
    output_scale: float = 1.0
    hard_reset_hint: str = "train with reset='hard', or "


Describe = Callable[[nn.Module], NeuronDynamics]
M = TypeVar("M", bound=type)

_NEURONS: dict[type, Describe] = {}


def _describe_by_attributes(m: nn.Module) -> NeuronDynamics:
    """Default description: the threshold from ``v_threshold`` or ``threshold`` (else 1)."""
    th = getattr(m, "v_threshold", getattr(m, "threshold", 1.0))
    return NeuronDynamics(label=type(m).__name__, v_threshold=float(th))


@overload
def register_neuron(cls: M, *, describe: Describe | None = None) -> M: ...
@overload
def register_neuron(cls: None = None, *, describe: Describe | None = None) -> Callable[[M], M]: ...


def register_neuron(cls=None, *, describe=None):
    """Declare ``cls`` (and its subclasses) a spiking-neuron layer type.

    Use as ``register_neuron(cls, describe=...)``, ``@register_neuron`` or
    ``@register_neuron(describe=...)``. ``describe(module)`` returns the layer's
    :class:`NeuronDynamics`; without it the threshold is read from ``v_threshold`` /
    ``threshold``. ``cls`` must be a SpikingJelly ``MemoryModule`` (its state is reset by
    ``reset_net``). Returns ``cls``.
    """

    def register(c: M) -> M:
        if not (isinstance(c, type) and issubclass(c, base.MemoryModule)):
            raise InvalidParameterError(
                f"register_neuron: {c!r} is not a subclass of spikingjelly's base.MemoryModule"
            )
        _NEURONS[c] = describe or _describe_by_attributes
        return c

    return register if cls is None else register(cls)


def neuron_types() -> tuple[type, ...]:
    """The registered spiking-neuron types (their subclasses count too)."""
    return tuple(_NEURONS)


def is_neuron(m: nn.Module) -> bool:
    """True for a layer of spiking neurons (an instance of a registered type)."""
    return isinstance(m, neuron_types())


def is_stateful(m: nn.Module) -> bool:
    """True for a layer with state between time steps (a SpikingJelly ``MemoryModule``)."""
    return isinstance(m, base.MemoryModule)


def neuron_dynamics(m: nn.Module) -> NeuronDynamics:
    """The :class:`NeuronDynamics` of a spiking-neuron layer (its nearest registered type's
    description); raises InvalidParameterError for any other module."""
    for c in type(m).__mro__:
        if c in _NEURONS:
            return _NEURONS[c](m)
    raise InvalidParameterError(f"{type(m).__name__} is not a registered spiking-neuron type")


def _describe_spikingjelly(m: nn.Module) -> NeuronDynamics:
    """SpikingJelly neurons: LIF and parametric LIF are described fully, others by threshold."""
    soft = m.v_reset is None
    v_reset = 0.0 if soft else float(m.v_reset)
    tau = None
    if isinstance(m, sj_neuron.ParametricLIFNode):
        tau = 1.0 / torch.sigmoid(m.w.detach().double().cpu())
    elif isinstance(m, sj_neuron.LIFNode):
        tau = torch.tensor(float(m.tau), dtype=torch.float64)
    return NeuronDynamics(
        label=type(m).__name__, v_threshold=float(m.v_threshold),
        model="other" if tau is None else "lif", tau=tau,
        decay_input=bool(getattr(m, "decay_input", True)), reset="soft" if soft else "hard",
        v_reset=v_reset, v_rest=v_reset, v_init=v_reset,
    )


register_neuron(sj_neuron.BaseNode, describe=_describe_spikingjelly)
