"""NeuroBench-style cost: synaptic operations (ACs / MACs) counted exactly by hand, activation
sparsity, static cost."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eventsnn.bench import (
    CostMeter,
    measure_cost,
    static_cost,
)
from eventsnn.errors import InvalidParameterError
from eventsnn.nn import build_model
from eventsnn.nn.neuron import MTLIF


def _linear() -> nn.Linear:
    lin = nn.Linear(3, 2, bias=True)
    with torch.no_grad():  # nonzero weights per input column: 1, 0, 2
        lin.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]))
        lin.bias.fill_(5.0)  # bias is not a synaptic operation
    return lin


def _cost(model: nn.Module, x: torch.Tensor, **kw) -> dict:
    with CostMeter(model, **kw) as meter:
        model(x)
        meter.add_samples(x.shape[1])
    return meter.report().to_dict()


def test_binary_input_counts_exact_acs() -> None:
    # [T=2, B=1, 3]: step 0 activates inputs 0 and 2 (fan-out 1 + 2), step 1 input 1 (fan-out 0)
    x = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]]])
    r = _cost(_linear(), x)
    assert r["effective_acs"] == 3 and r["effective_macs"] == 0
    assert r["dense_synops"] == 2 * 6  # every connection, every step, zero weights included
    assert r["layers"][0]["input_kind"] == "binary" and r["layers"][0]["spike_events"] == 3
    assert r["energy_uj"] == pytest.approx(3 * 0.9e-6)


def test_graded_input_counts_macs_and_reports_spike_events() -> None:
    x = torch.tensor([[[2.0, 0.0, 1.0]], [[0.0, 1.0, 0.0]]])  # graded spikes (MT-LIF, K >= 2)
    r = _cost(_linear(), x)
    assert r["effective_macs"] == 3 and r["effective_acs"] == 0
    assert r["graded_spike_events"] == 3  # nonzero inputs (messages)
    assert r["graded_spike_count"] == 4  # 2 + 1 + 1 unit spikes
    assert r["acs_if_graded_unrolled"] == 2 * 1 + 1 * 2  # value x fan-out
    assert r["energy_uj"] == pytest.approx(3 * 4.6e-6)
    assert r["energy_uj_graded_as_acs"] == pytest.approx(4 * 0.9e-6)


def test_counts_are_per_sample_and_real_inputs_are_macs() -> None:
    x = torch.tensor([[[0.3, 0.0, 0.0], [0.0, 0.0, -0.7]]])  # [T=1, B=2, 3], real-valued
    r = _cost(_linear(), x)
    assert r["layers"][0]["input_kind"] == "real"
    assert r["effective_macs"] == (1 + 2) / 2 and r["dense_synops"] == 6
    assert r["acs_if_graded_unrolled"] == 0  # not spikes: stays MACs in the alternative too


def test_scaled_binary_inputs_are_acs_unless_strict() -> None:
    x = torch.tensor([[[0.5, 0.0, 0.5]]])  # {0, theta}: IF-layer outputs of converted networks
    assert _cost(_linear(), x)["effective_acs"] == 3
    strict = _cost(_linear(), x, scaled_binary_as_ac=False)
    assert strict["effective_acs"] == 0 and strict["effective_macs"] == 3


def test_conv_counts_match_binarised_convolution_with_padding_stride_groups() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)
    with torch.no_grad():
        conv.weight[conv.weight.abs() < 0.1] = 0.0  # some zero weights
    x = (torch.rand(3, 2, 4, 9, 9) < 0.2).float()  # [T, B, C, H, W] binary
    r = _cost(nn.Sequential(nn.Flatten(0, 1), conv), x)  # conv sees [T*B, C, H, W]
    wb = (conv.weight != 0).float()
    expected = F.conv2d(x.flatten(0, 1), wb, None, 2, 1, 1, 2).sum().item() / 2
    dense = F.conv2d(torch.ones(6, 4, 9, 9), torch.ones_like(wb), None, 2, 1, 1, 2).sum().item() / 2
    assert r["effective_acs"] == pytest.approx(expected, abs=1e-6) and r["effective_macs"] == 0
    assert r["dense_synops"] == pytest.approx(dense)
    assert r["connection_sparsity"] == pytest.approx(float((conv.weight == 0).float().mean()))


def test_single_active_pixel_fanout_by_hand() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.zeros(1, 1, 1, 3, 3)
    x[..., 0, 0] = 1.0  # a corner reaches 4 outputs
    x2 = torch.zeros(1, 1, 1, 3, 3)
    x2[..., 1, 1] = 1.0  # the centre reaches all 9
    seq = nn.Sequential(nn.Flatten(0, 1), conv)
    assert _cost(seq, x)["effective_acs"] == 4
    assert _cost(seq, x2)["effective_acs"] == 9
    assert _cost(seq, x)["dense_synops"] == 4 * 4 + 4 * 6 + 9


def test_activation_sparsity_and_static_cost() -> None:
    torch.manual_seed(1)
    model = build_model("nmnist", channels=[4, 8], n_thresholds=2).eval()
    x = torch.randint(0, 4, (3, 2, 2, 34, 34)).float()  # event counts 0..3
    neurons = {name: m for name, m in model.named_modules() if isinstance(m, MTLIF)}
    for m in neurons.values():
        m.record = True
    r = measure_cost(model, x.transpose(0, 1), batch_size=2)  # one batch: last_spikes = all spikes
    spikes = {name: m.last_spikes for name, m in neurons.items()}
    nz = sum(int((s != 0).sum()) for s in spikes.values())
    tot = sum(s.numel() for s in spikes.values())
    assert r.activation_sparsity == pytest.approx(1 - nz / tot)
    assert set(r.activation_by_layer) == set(spikes)
    st = static_cost(model)
    n_bytes = sum(p.numel() * 4 for p in model.parameters()) + sum(b.numel() * b.element_size() for b in model.buffers())
    assert st["footprint_bytes"] == n_bytes == r.footprint_bytes
    assert st["parameter_count"] == sum(p.numel() for p in model.parameters())
    kinds = [layer["input_kind"] for layer in r.layers]
    assert kinds[0] == "graded" and r.effective_macs > 0  # event counts are not binary
    with pytest.raises(InvalidParameterError):
        CostMeter(model).report()
