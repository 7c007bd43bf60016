"""Spiking conv blocks and model presets: shapes, options, config round trip, learning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import base
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import (
    MTLIF,
    SCB,
    ConvBlock,
    NeuronDynamics,
    SeqToANN,
    Synapse,
    build_model,
    default_config,
    input_shape,
    is_neuron,
    neuron_dynamics,
    preset_names,
    register_neuron,
    spike_layers,
    stateful_layers,
)
from eventsnn.nn.registry import neuron_types

EXPECTED = {
    "nmnist": ((2, 34, 34), 10),
    "synthetic": ((2, 34, 34), 10),
    "dvsgesture": ((2, 32, 32), 11),
    "cifar10dvs": ((2, 32, 32), 10),
    "dvs128objects": ((2, 32, 32), 7),
    "plif": ((2, 34, 34), 10),
}


def test_preset_names() -> None:
    assert set(preset_names()) == set(EXPECTED)


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_preset_builds_runs_and_rebuilds_from_config(preset: str) -> None:
    torch.manual_seed(0)
    model = build_model(preset)
    shape, n_classes = EXPECTED[preset]
    assert input_shape(model.config) == shape
    assert model.config["preset"] == preset
    assert model.readout in ("logits", "rate")
    config = json.loads(json.dumps(model.config))  # JSON round trip
    x = (torch.rand(2, 3, *shape) < 0.3).float() * 2
    model.train()
    out = model(x)
    assert out.shape == (2, 3, n_classes)
    out.mean(0).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    sj_functional.reset_net(model)

    rebuilt = build_model(**config)
    assert build_model(config).config == rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    model.eval()
    rebuilt.eval()
    with torch.no_grad():
        sj_functional.reset_net(model)
        a = model(x)
        sj_functional.reset_net(model)
        a2 = model(x)
        b = rebuilt(x)
    assert torch.equal(a, a2)  # reset_net makes runs independent
    assert torch.equal(a, b)
    assert len(spike_layers(model)) >= 2


def test_overrides_and_scb_placement() -> None:
    for scb, n_syn in (("none", 0), ("first", 1), ("all", 3)):
        m = build_model("synthetic", channels=[8, 8, 8], scb=scb, n_thresholds=4)
        syn = [mod for mod in m.modules() if isinstance(mod, Synapse)]
        assert len(syn) == n_syn
        assert all(n.params.n_thresholds == 4 for _, n in spike_layers(m))
        assert len(stateful_layers(m)) == 3 + n_syn
    m = build_model("nmnist", channels=[16, 16], per_channel_tau=True, per_channel_alpha=True,
                    scb="all", fc_hidden=32)
    neurons = [mod for _, mod in spike_layers(m)]
    assert [tuple(n.w.shape) for n in neurons] == [(16,), (16,), (32,)]
    assert all(tuple(s.a.shape) == (16,) for s in m.modules() if isinstance(s, Synapse))
    out = m(torch.rand(2, 2, 2, 34, 34))
    assert out.shape == (2, 2, 10)
    m2 = build_model("dvsgesture", spatial_factor=2, channels=[8, 8, 8, 8, 8])
    assert input_shape(m2.config) == (2, 64, 64)
    assert m2(torch.rand(1, 1, 2, 64, 64)).shape == (1, 1, 11)


def test_log1p_input_transform() -> None:
    """``input_transform="log1p"`` feeds ``log(1 + x)`` to the first conv: same as a plain model
    given ``log1p`` frames; a checkpoint config without the key (older runs) means ``"none"``."""
    torch.manual_seed(0)
    m = build_model("synthetic", input_transform="log1p").eval()
    plain = build_model("synthetic").eval()
    plain.load_state_dict(m.state_dict())
    x = torch.rand(2, 3, 2, 34, 34) * 20
    sj_functional.reset_net(m)
    sj_functional.reset_net(plain)
    torch.testing.assert_close(m(x), plain(torch.log1p(x)))
    old = {k: v for k, v in m.config.items() if k != "input_transform"}
    assert build_model(old).config["input_transform"] == "none"
    with pytest.raises(InvalidParameterError, match="input_transform"):
        build_model("nmnist", input_transform="sqrt")


def test_build_model_errors() -> None:
    with pytest.raises(InvalidParameterError, match="unknown model preset"):
        build_model("resnet")
    with pytest.raises(InvalidParameterError, match="unknown option"):
        build_model("nmnist", n_threshold=2)
    with pytest.raises(InvalidParameterError, match="preset"):
        build_model({"n_thresholds": 2})
    with pytest.raises(InvalidParameterError):
        build_model("nmnist", scb="middle")
    with pytest.raises(InvalidParameterError):
        build_model("nmnist", channels=[8] * 7)  # 34 px cannot be pooled 7 times
    m = build_model("synthetic")
    with pytest.raises(InvalidParameterError, match="expects input"):
        m(torch.rand(2, 1, 2, 32, 32))
    assert default_config("synthetic") == {**m.config}


def test_plif_preset_is_spikingjelly() -> None:
    m = build_model("plif", fc_hidden=64)
    nodes = [mod for _, mod in spike_layers(m)]
    assert len(nodes) == 4
    assert all(isinstance(n, sj_neuron.ParametricLIFNode) and n.step_mode == "m" for n in nodes)
    out = m(torch.rand(2, 3, 2, 34, 34))
    assert ((out >= 0) & (out <= 1)).all()  # voting-layer spike rates
    assert m.readout == "rate"


def test_blocks_shapes() -> None:
    x = torch.rand(3, 2, 4, 9, 9)
    blk = SCB(4, 6, pool="avg", neuron={"n_thresholds": 3, "per_channel": True})
    assert isinstance(blk.synapse, Synapse)
    assert blk.neuron.w.shape == (6,)
    assert blk(x).shape == (3, 2, 6, 4, 4)
    plain = ConvBlock(4, 6, pool=None)
    assert plain.synapse is None
    y = plain(x)
    assert y.shape == (3, 2, 6, 9, 9)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(InvalidParameterError):
        plain(torch.rand(2, 4, 9, 9))


def test_record_spikes() -> None:
    m = build_model("synthetic")
    for _, n in spike_layers(m):
        n.record = True
    m(torch.rand(2, 2, 2, 34, 34))
    rates = [n.last_spikes.mean().item() for _, n in spike_layers(m)]
    assert len(rates) == 2 and all(r >= 0 for r in rates)
    assert isinstance(spike_layers(m)[0][1], MTLIF)


def test_synthetic_preset_learns_a_simple_task() -> None:
    """Two classes of event frames (activity in the left or right half) are learned in a few
    Adam steps: accuracy on fresh samples well above chance."""
    torch.manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 2, (n,))
        x = (torch.rand(n, 2, 2, 16, 16) < 0.05).float()
        for i in range(n):
            cols = slice(0, 8) if y[i] == 0 else slice(8, 16)
            x[i, :, :, :, cols] += (torch.rand(2, 2, 16, 8) < 0.4).float()
        return x.transpose(0, 1), y

    model = build_model("synthetic", n_classes=2, channels=[8, 8], sensor_size=[16, 16])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(15):
        x, y = batch(32)
        sj_functional.reset_net(model)
        loss = torch.nn.functional.cross_entropy(model(x).mean(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = batch(200)
    with torch.no_grad():
        sj_functional.reset_net(model)
        acc = (model(x).mean(0).argmax(1) == y).float().mean().item()
    assert acc > 0.9


# ---------------------------------------------------------------------------- neuron registry


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


def test_stateful_layers_are_the_memory_modules() -> None:
    """Stateful = SpikingJelly MemoryModule: neurons and synapses, and the plif preset's
    time-shared dropout masks (SpikingJelly ``layer.Dropout``)."""
    m = build_model("synthetic", scb="all", channels=[4, 4])
    assert [n for n, _ in stateful_layers(m)] == ["features.0.synapse", "features.0.neuron",
                                                  "features.1.synapse", "features.1.neuron"]
    plif = build_model("plif", fc_hidden=8)
    kinds = sorted(type(mod).__name__ for _, mod in stateful_layers(plif))
    assert kinds == ["Dropout", "Dropout"] + ["ParametricLIFNode"] * 4


def test_models_module_still_re_exports_the_moved_names() -> None:
    import eventsnn.nn.models as old
    from eventsnn.nn import convnet, introspect, plif, presets

    assert old.build_model is presets.build_model and old.PRESETS is presets.PRESETS
    assert old.SpikingConvNet is convnet.SpikingConvNet and old.PLIFNet is plif.PLIFNet
    assert old.spike_layers is introspect.spike_layers and old.input_shape is presets.input_shape
