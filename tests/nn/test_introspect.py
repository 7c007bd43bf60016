"""Which layers of a network spike and which keep state."""

from __future__ import annotations

import torch
from _models import spiking_net

from eventsnn.nn import (
    MTLIF,
    build_model,
    neuron_dynamics,
    spike_layers,
    stateful_layers,
)


def test_record_spikes() -> None:
    """The spiking layers of a preset are its MT-LIF neurons, in order; with ``record`` each keeps
    (detached) exactly the graded spikes it put out, and strong input makes every layer spike."""
    torch.manual_seed(0)
    m = spiking_net("synthetic")
    layers = spike_layers(m)
    assert [name for name, _ in layers] == ["features.0.neuron", "features.1.neuron"]
    assert all(type(n) is MTLIF for _, n in layers)
    outputs = {}
    hooks = [n.register_forward_hook(lambda mod, i, o, name=name: outputs.__setitem__(name, o.detach()))
             for name, n in layers]
    for _, n in layers:
        n.record = True
    m(3 * torch.rand(2, 2, 2, 34, 34))
    channels = list(m.config["channels"])
    for h in hooks:
        h.remove()
    for name, n in layers:
        assert torch.equal(n.last_spikes, outputs[name]) and not n.last_spikes.requires_grad
        assert n.last_spikes.dim() == 5 and n.last_spikes.shape[:3] == (2, 2, channels.pop(0))  # [T, B, C, H, W]
        assert set(n.last_spikes.unique().tolist()) <= set(range(neuron_dynamics(n).n_thresholds + 1))
        assert n.last_spikes.mean().item() > 0, f"{name} did not spike"


def test_stateful_layers_are_the_memory_modules() -> None:
    """Stateful = SpikingJelly MemoryModule: neurons and synapses, and the plif preset's
    time-shared dropout masks (SpikingJelly ``layer.Dropout``)."""
    m = build_model("synthetic", scb="all", channels=[4, 4])
    assert [n for n, _ in stateful_layers(m)] == ["features.0.synapse", "features.0.neuron",
                                                  "features.1.synapse", "features.1.neuron"]
    plif = build_model("plif", fc_hidden=8)
    kinds = sorted(type(mod).__name__ for _, mod in stateful_layers(plif))
    assert kinds == ["Dropout", "Dropout"] + ["ParametricLIFNode"] * 4
