"""The spiking-neuron registry: a type registered once is found by every inspector."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import base
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import (
    NeuronDynamics,
    SeqToANN,
    Synapse,
    build_model,
    is_neuron,
    neuron_dynamics,
    register_neuron,
    spike_layers,
    stateful_layers,
)
from eventsnn.nn.registry import neuron_types


@register_neuron(describe=lambda m: NeuronDynamics(label="toy IF", v_threshold=m.theta, n_thresholds=1,
                                                   model="if"))
class _ToyIF(base.MemoryModule):
    """A neuron type eventsnn does not know: binary IF, ``[T, B, N]`` -> spikes; registered once,
    here, and nowhere else."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = theta
        self.register_memory("v", 0.0)
        self.step_mode = "m"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        v = self.v + x
        s = (v >= self.theta).to(x.dtype)
        self.v = v - s * self.theta
        return s

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.stack([self.single_step_forward(x) for x in x_seq])


def _toy_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        SeqToANN(torch.nn.Flatten(1), torch.nn.Linear(2 * 4 * 4, 6)), _ToyIF(0.5), SeqToANN(torch.nn.Linear(6, 3))
    ).eval()


def test_registered_neuron_is_found_by_every_inspector() -> None:
    """A new neuron type registered once is a spiking layer for nn, the cost meter and viz."""
    from eventsnn import viz
    from eventsnn.bench.metrics import activation_layers, measure_cost

    net = _toy_net()
    toy = net[1]
    assert is_neuron(toy) and _ToyIF in neuron_types()
    assert spike_layers(net) == [("1", toy)]
    assert stateful_layers(net) == [("1", toy)]
    assert activation_layers(net) == [("1", toy)]

    x = torch.rand(5, 3, 2, 4, 4)  # [T, B, P, H, W]
    with torch.no_grad():
        sj_functional.reset_net(net)
        spikes = net[1](net[0](x))
    sj_functional.reset_net(net)
    assert 0 < spikes.sum() < spikes.numel()
    report = measure_cost(net, x.transpose(0, 1), batch_size=3)
    expect = 1.0 - float((spikes != 0).sum()) / spikes.numel()
    assert report.activation_by_layer == {"1": pytest.approx(expect)}

    rec = viz.record_activity(net, x[:, 0])
    assert rec.layers == ["1"]
    assert rec.thresholds == {"1": (0.5, 1)}  # read through the registered description
    np.testing.assert_array_equal(rec.spikes["1"], spikes[:, 0].numpy())
    assert rec.membrane["1"].shape == (5, 6)


def test_registry_describes_the_built_in_neurons_and_refuses_others() -> None:
    m = build_model("synthetic", n_thresholds=3, per_channel_tau=True, init_tau=3.0)
    d = neuron_dynamics(m.features[0].neuron)
    assert (d.label, d.model, d.n_thresholds, d.reset, d.init_tau) == ("MTLIF", "lif", 3, "soft", 3.0)
    assert d.tau.dtype == torch.float64 and d.tau.shape == (16,)
    torch.testing.assert_close(d.tau, torch.full((16,), 3.0, dtype=torch.float64))
    plif = [mod for _, mod in spike_layers(build_model("plif", fc_hidden=8))][0]
    d = neuron_dynamics(plif)
    assert (d.label, d.model, d.reset, d.v_reset) == ("ParametricLIFNode", "lif", "hard", 0.0)
    assert float(d.tau) == pytest.approx(2.0)
    assert neuron_dynamics(sj_neuron.IFNode()).model == "other"  # described by threshold only
    with pytest.raises(InvalidParameterError, match="not a registered spiking-neuron type"):
        neuron_dynamics(Synapse())
    with pytest.raises(InvalidParameterError, match="MemoryModule"):
        register_neuron(torch.nn.ReLU)
