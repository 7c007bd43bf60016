"""Model presets: names, shapes, rebuilding from the config, overrides, errors, the PLIF baseline,
learning a simple task."""

from __future__ import annotations

import json

import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import (
    Synapse,
    build_model,
    default_config,
    input_shape,
    preset_names,
    spike_layers,
    stateful_layers,
)

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
