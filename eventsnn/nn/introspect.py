"""Which layers of a network spike, and which keep state between time steps.

Both questions are answered by :mod:`eventsnn.nn.registry` (registered spiking-neuron types;
SpikingJelly ``MemoryModule`` for state), so they cover every neuron type, whichever package
defines it.
"""

from __future__ import annotations

from torch import nn

from eventsnn.nn.registry import is_neuron, is_stateful

__all__ = ["spike_layers", "stateful_layers"]


def spike_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every spiking layer (a registered neuron type: MT-LIF,
    SpikingJelly neurons, ...), in forward order. Set ``m.record = True`` on MT-LIF layers to
    keep their ``last_spikes``."""
    return [(name, m) for name, m in model.named_modules() if is_neuron(m)]


def stateful_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every module with time state (SpikingJelly ``MemoryModule``:
    neurons, synapses, SpikingJelly's time-shared dropout, ...)."""
    return [(name, m) for name, m in model.named_modules() if is_stateful(m)]
