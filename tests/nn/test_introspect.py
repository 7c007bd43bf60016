"""Which layers of a network spike and which keep state."""

from __future__ import annotations

import torch

from eventsnn.nn import (
    MTLIF,
    build_model,
    spike_layers,
    stateful_layers,
)


def test_record_spikes() -> None:
    m = build_model("synthetic")
    for _, n in spike_layers(m):
        n.record = True
    m(torch.rand(2, 2, 2, 34, 34))
    rates = [n.last_spikes.mean().item() for _, n in spike_layers(m)]
    assert len(rates) == 2 and all(r >= 0 for r in rates)
    assert isinstance(spike_layers(m)[0][1], MTLIF)


def test_stateful_layers_are_the_memory_modules() -> None:
    """Stateful = SpikingJelly MemoryModule: neurons and synapses, and the plif preset's
    time-shared dropout masks (SpikingJelly ``layer.Dropout``)."""
    m = build_model("synthetic", scb="all", channels=[4, 4])
    assert [n for n, _ in stateful_layers(m)] == ["features.0.synapse", "features.0.neuron",
                                                  "features.1.synapse", "features.1.neuron"]
    plif = build_model("plif", fc_hidden=8)
    kinds = sorted(type(mod).__name__ for _, mod in stateful_layers(plif))
    assert kinds == ["Dropout", "Dropout"] + ["ParametricLIFNode"] * 4
