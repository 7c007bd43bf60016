"""Which layers of a network spike, and which keep state between time steps.

Both questions are answered by :mod:`eventsnn.nn.registry` (registered spiking-neuron types;
SpikingJelly ``MemoryModule`` for state), so they cover every neuron type, whichever package
defines it.
"""

from __future__ import annotations

from torch import nn

from eventsnn.nn.registry import NeuronDynamics, is_neuron, is_stateful, neuron_dynamics

__all__ = ["activation_layers", "layer_dynamics", "spike_layers", "stateful_layers"]


def spike_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every spiking layer (a registered neuron type: MT-LIF,
    SpikingJelly neurons, ...), in forward order. Set ``m.record = True`` on MT-LIF layers to
    keep their ``last_spikes``."""
    return [(name, m) for name, m in model.named_modules() if is_neuron(m)]


def layer_dynamics(model: nn.Module) -> dict[str, NeuronDynamics]:
    """layer name -> :class:`~eventsnn.nn.registry.NeuronDynamics` of every spiking layer
    (:func:`spike_layers`), read through the neuron registry."""
    return {name: neuron_dynamics(m) for name, m in spike_layers(model)}


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every spiking layer whose outputs activation sparsity counts.

    Every registered spiking-neuron layer (:func:`spike_layers`: MT-LIF, SpikingJelly neurons,
    the IF layers of converted networks, ...) and whatever ``model.spiking_layers()`` lists, in
    module order, without duplicates.
    """
    found: dict[int, tuple[str, nn.Module]] = {id(m): (name, m) for name, m in spike_layers(model)}
    listed = getattr(model, "spiking_layers", None)
    if callable(listed):
        names = {id(m): n for n, m in model.named_modules()}
        for _, m in listed():
            found.setdefault(id(m), (names.get(id(m), type(m).__name__), m))
    order = {id(m): i for i, (_, m) in enumerate(model.named_modules())}
    return sorted(found.values(), key=lambda nm: order.get(id(nm[1]), 0))


def stateful_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every module with time state (SpikingJelly ``MemoryModule``:
    neurons, synapses, SpikingJelly's time-shared dropout, ...)."""
    return [(name, m) for name, m in model.named_modules() if is_stateful(m)]
