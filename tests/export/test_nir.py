"""NIR export: round trip through nir.write/nir.read, the discrete->continuous mapping checked
by simulating the exported graph, and clear errors for what NIR cannot express."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

nir = pytest.importorskip("nir")

from spikingjelly.activation_based import functional as sj_functional  # noqa: E402

from eventsnn.convert.converter import convert  # noqa: E402
from eventsnn.convert.models import ModelConfig  # noqa: E402
from eventsnn.convert.models import build_model as build_ann  # noqa: E402
from eventsnn.errors import EventsnnError  # noqa: E402
from eventsnn.export import NIRExportError, export_nir  # noqa: E402
from eventsnn.nn import build_model  # noqa: E402

DT = 1e-3


def _k1_model(**kw) -> torch.nn.Module:
    """A small trained-looking K=1, hard-reset preset with per-channel tau and synapses."""
    torch.manual_seed(0)
    cfg = dict(n_thresholds=1, reset="hard", v_threshold=0.5, per_channel_tau=True, scb="all",
               per_channel_alpha=True, channels=[4, 8], fc_hidden=16, sensor_size=[16, 16])
    cfg.update(kw)
    m = build_model("synthetic", **cfg)
    with torch.no_grad():  # move parameters and BN statistics away from their initial values
        for mod in m.modules():
            if hasattr(mod, "w") and isinstance(mod.w, torch.Tensor):
                mod.w.uniform_(-2.0, 1.0)
            if hasattr(mod, "a") and isinstance(mod.a, torch.Tensor):
                mod.a.uniform_(-1.0, 1.0)
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.3)
    return m.eval()


def _simulate(graph, x_seq: np.ndarray, dt: float) -> np.ndarray:
    """Forward-Euler simulation of a sequential NIR graph: ``[T, *in]`` -> ``[T, *out]``."""
    order, nxt = [], dict(graph.edges)
    node = "input"
    while node != "output":
        node = nxt[node]
        order.append(node)
    state: dict[str, dict[str, torch.Tensor]] = {}
    outs = []
    for x in x_seq:
        y = torch.from_numpy(x).double().unsqueeze(0)
        for name in order[:-1]:
            n = graph.nodes[name]
            p = {k: torch.from_numpy(np.asarray(getattr(n, k))).double() for k in
                 ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "tau_mem", "w_in") if hasattr(n, k)}
            if isinstance(n, nir.Conv2d):
                y = F.conv2d(y, torch.from_numpy(n.weight).double(), torch.from_numpy(n.bias).double(),
                             tuple(n.stride), tuple(n.padding), tuple(n.dilation), n.groups)
            elif isinstance(n, nir.SumPool2d):
                k = tuple(int(v) for v in n.kernel_size)
                y = F.avg_pool2d(y, k, tuple(int(v) for v in n.stride)) * (k[0] * k[1])
            elif isinstance(n, nir.Threshold):
                y = (y > torch.from_numpy(n.threshold).double()).double()
            elif isinstance(n, nir.Flatten):
                y = y.flatten(n.start_dim + 1, n.end_dim if n.end_dim < 0 else n.end_dim + 1)
            elif isinstance(n, nir.Affine):
                y = y @ torch.from_numpy(n.weight).double().T + torch.from_numpy(n.bias).double()
            elif isinstance(n, nir.Linear):
                y = y @ torch.from_numpy(n.weight).double().T
            elif isinstance(n, (nir.LIF, nir.CubaLIF)):
                s = state.setdefault(name, {"v": p["v_leak"].clone().unsqueeze(0), "i": torch.zeros_like(y)})
                if isinstance(n, nir.CubaLIF):
                    s["i"] = s["i"] + dt / p["tau_syn"] * (-s["i"] + p["w_in"] * y)
                    cur, tau = s["i"], p["tau_mem"]
                else:
                    cur, tau = y, p["tau"]
                v = s["v"] + dt / tau * (p["v_leak"] - s["v"] + p["r"] * cur)
                z = (v > p["v_threshold"]).double()
                s["v"] = torch.where(z > 0, p["v_reset"], v)
                y = z
            else:
                raise AssertionError(f"simulator does not know {type(n).__name__}")
        outs.append(y[0].numpy())
    return np.stack(outs)


def test_k1_model_round_trips_with_structure_and_parameters(tmp_path):
    m = _k1_model()
    path = tmp_path / "model.nir"
    graph = export_nir(m, (2, 16, 16), path=path, dt=DT)
    back = nir.read(path)
    types = {k: type(v).__name__ for k, v in back.nodes.items()}
    assert types == {
        "input": "Input", "features.0.conv_bn.0": "Conv2d", "features.0.neuron": "CubaLIF",
        "features.0.pool.sum": "SumPool2d", "features.0.pool.threshold": "Threshold",
        "features.1.conv_bn.0": "Conv2d", "features.1.neuron": "CubaLIF",
        "features.1.pool.sum": "SumPool2d", "features.1.pool.threshold": "Threshold",
        "head.0": "Flatten", "hidden.0.0": "Affine", "hidden.1": "LIF", "classifier": "Affine",
        "output": "Output",
    }
    chain = ["input", "features.0.conv_bn.0", "features.0.neuron", "features.0.pool.sum",
             "features.0.pool.threshold", "features.1.conv_bn.0", "features.1.neuron",
             "features.1.pool.sum", "features.1.pool.threshold", "head.0", "hidden.0.0", "hidden.1",
             "classifier", "output"]
    assert sorted(back.edges) == sorted(zip(chain[:-1], chain[1:], strict=True))
    assert list(back.nodes["input"].input_type["input"]) == [2, 16, 16]
    assert list(back.nodes["output"].output_type["output"]) == [10]
    assert float(back.metadata["dt"]) == DT

    # weights: conv with BN folded in
    conv, bn = m.features[0].conv_bn.body[0], m.features[0].conv_bn.body[1]
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    w_ref = (conv.weight.detach() * scale.view(-1, 1, 1, 1)).numpy()
    b_ref = (bn.bias.detach() - bn.running_mean * scale).numpy()
    np.testing.assert_allclose(back.nodes["features.0.conv_bn.0"].weight, w_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(back.nodes["features.0.conv_bn.0"].bias, b_ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(back.nodes["classifier"].weight, m.classifier.body.weight.detach().numpy())
    np.testing.assert_array_equal(back.nodes["classifier"].bias, m.classifier.body.bias.detach().numpy())

    # neurons: tau_nir = tau_steps * dt per channel, broadcast over (C, H, W)
    cuba = back.nodes["features.0.neuron"]
    neuron, syn = m.features[0].neuron, m.features[0].synapse
    assert cuba.tau_mem.shape == (4, 16, 16)
    np.testing.assert_allclose(cuba.tau_mem[:, 0, 0], neuron.tau.numpy() * DT, rtol=1e-6)
    np.testing.assert_allclose(cuba.tau_mem[:, 5, 7], neuron.tau.numpy() * DT, rtol=1e-6)
    alpha = syn.alpha.numpy()
    np.testing.assert_allclose(cuba.tau_syn[:, 0, 0], DT / (1 - alpha), rtol=1e-6)
    np.testing.assert_allclose(cuba.w_in[:, 0, 0], 1 / (1 - alpha), rtol=1e-6)
    assert np.all(cuba.v_threshold == 0.5) and np.all(cuba.v_reset == 0.0) and np.all(cuba.r == 1.0)
    lif = back.nodes["hidden.1"]
    np.testing.assert_allclose(lif.tau, m.hidden[1].tau.numpy() * DT, rtol=1e-6)
    assert lif.tau.shape == (16,)
    # the in-memory graph and the file agree
    np.testing.assert_array_equal(graph.nodes["hidden.1"].tau, lif.tau)


def test_exported_graph_simulates_like_the_model(nmnist_files):
    """Simulating the NIR ODEs with forward Euler at dt reproduces the eventsnn model exactly."""
    from eventsnn.events import read_bin_events
    from eventsnn.functional.stc import stc_numpy

    m = _k1_model(sensor_size=[34, 34], channels=[6, 8])
    frames = stc_numpy(read_bin_events(nmnist_files[0]), (34, 34, 2), 6)
    graph = export_nir(m, frames.shape[1:], dt=DT)
    sj_functional.reset_net(m)
    with torch.no_grad():
        ref = m(torch.from_numpy(frames).unsqueeze(1))[:, 0].double().numpy()
    sim = _simulate(graph, frames, DT)
    assert np.abs(ref).max() > 0.05  # the input drives the network
    np.testing.assert_allclose(sim, ref, rtol=1e-4, atol=1e-4)


def test_plif_preset_exports_lif_and_voting():
    m = build_model("plif", channels=[4, 4], fc_hidden=32).eval()
    g = export_nir(m, dt=1e-4)
    kinds = Counter(type(v).__name__ for v in g.nodes.values())
    assert kinds == Counter({"Conv2d": 2, "LIF": 4, "SumPool2d": 2, "Threshold": 2, "Flatten": 1,
                             "Linear": 3, "Input": 1, "Output": 1})
    voting = g.nodes["net.15"].weight
    assert voting.shape == (10, 100)
    expect = np.kron(np.eye(10), np.full((1, 10), 0.1)).astype(np.float32)
    np.testing.assert_array_equal(voting, expect)
    assert np.all(g.nodes["net.2"].tau == pytest.approx(2.0 * 1e-4))


def test_multi_threshold_model_fails_naming_the_layer():
    with pytest.raises(NIRExportError) as exc:
        export_nir(build_model("synthetic", n_thresholds=4, reset="hard"), (2, 34, 34))
    assert str(exc.value) == (
        "layer 'features.0.neuron': MTLIF with 4 thresholds cannot be expressed in NIR "
        "(NIR neurons emit binary spikes); export a model with n_thresholds=1"
    )
    assert isinstance(exc.value, EventsnnError)


def test_soft_reset_fails_unless_approximated():
    m = build_model("synthetic", n_thresholds=1, reset="soft", scb="none")
    with pytest.raises(NIRExportError, match="layer 'features.0.neuron': MTLIF with soft reset"):
        export_nir(m)
    with pytest.warns(UserWarning, match="soft reset"):
        g = export_nir(m, soft_reset="approximate")
    assert g.nodes["features.0.neuron"].metadata["eventsnn_reset"] == "subtract"
    assert isinstance(g.nodes["features.0.neuron"], nir.LIF)


def test_graded_spikes_into_max_pooling_and_other_errors():
    with pytest.raises(NIRExportError, match="MaxPool2d on non-binary values"):
        export_nir(torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.MaxPool2d(2)), (2, 8, 8))
    with pytest.raises(NIRExportError, match="layer '1': GELU has no NIR primitive"):
        export_nir(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU()), (4,))
    with pytest.raises(NIRExportError, match="batch norm must follow"):
        export_nir(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(8)), (2, 4))
    with pytest.raises(EventsnnError, match="dt must be > 0"):
        export_nir(build_model("synthetic", n_thresholds=1, reset="hard"), dt=0)


def test_converted_net_exports_if_neurons(tmp_path):
    torch.manual_seed(0)
    ann = build_ann(ModelConfig(arch="resnet20", in_channels=1, width=0.25)).eval()
    snn = convert(ann, torch.rand(8, 1, 16, 16), T=4, tune=False)
    with pytest.raises(NIRExportError, match="layer 'stem_act': IF neuron of a converted net"):
        export_nir(snn, (1, 16, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_nir(snn, (1, 16, 16), path=tmp_path / "snn.nir", soft_reset="approximate", dt=DT)
    g = nir.read(tmp_path / "snn.nir")
    kinds = Counter(type(v).__name__ for v in g.nodes.values())
    assert kinds["IF"] == kinds["Scale"] == len(snn.spiking_layers()) == 19
    assert kinds["Conv2d"] == 21 and kinds["Affine"] == 1
    theta = float(snn.body.stem_act.threshold)
    node = g.nodes["stem_act"]
    assert np.all(node.v_threshold == pytest.approx(theta)) and np.all(node.r == pytest.approx(1 / DT))
    assert np.all(g.nodes["stem_act.scale"].scale == pytest.approx(theta))
    assert node.metadata["eventsnn_v_init"] == pytest.approx(theta / 2)
    # a residual add: both the shortcut (stem_act output) and the branch feed layer1.0.act2
    into_add = sorted(src for src, dst in g.edges if dst == "layer1.0.act2")
    assert into_add == ["layer1.0.cb2.conv", "stem_act.scale"]


def test_registered_lif_neuron_exports_through_its_dynamics():
    """A neuron type registered with LIF dynamics exports as a NIR LIF, with no exporter change."""
    from spikingjelly.activation_based import base

    from eventsnn.nn import NeuronDynamics, register_neuron

    @register_neuron(describe=lambda m: NeuronDynamics(
        label="toy LIF", v_threshold=0.7, model="lif", tau=torch.tensor([4.0, 5.0, 8.0], dtype=torch.float64),
        reset="hard", v_reset=-0.1, v_rest=-0.1))
    class ToyLIF(base.MemoryModule):
        def single_step_forward(self, x):  # noqa: ANN001, ANN202
            return (x > 0.7).to(x.dtype)

    g = export_nir(torch.nn.Sequential(torch.nn.Linear(4, 3), ToyLIF()), (4,), dt=DT)
    node = g.nodes["1"]
    assert isinstance(node, nir.LIF)
    np.testing.assert_allclose(node.tau, np.array([4.0, 5.0, 8.0]) * DT, rtol=1e-6)
    assert np.all(node.v_threshold == pytest.approx(0.7)) and np.all(node.v_reset == pytest.approx(-0.1))
    assert np.all(node.v_leak == pytest.approx(-0.1)) and np.all(node.r == 1.0)
    assert sorted(g.edges) == [("0", "1"), ("1", "output"), ("input", "0")]


def test_export_nir_module_is_a_deprecated_alias():
    import importlib
    import sys

    import eventsnn.export.nir as new

    sys.modules.pop("eventsnn.export_nir", None)
    with pytest.warns(DeprecationWarning, match="eventsnn.export"):
        old = importlib.import_module("eventsnn.export_nir")
    assert old.export_nir is new.export_nir and old.NIRExportError is new.NIRExportError
