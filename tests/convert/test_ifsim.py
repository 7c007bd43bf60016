"""Integrate-and-fire simulation of converted networks: exact spike counts, signed neurons, QCFS
equivalence, multi-step forward."""

from __future__ import annotations

import torch
from _conversion_files import small_ann
from spikingjelly.activation_based import functional as sjf

from eventsnn.convert import (
    QCFS,
    convert,
    if_multistep,
)
from eventsnn.convert.ifsim import cumulative_mean, if_rate

torch.set_num_threads(2)


def test_if_constant_input_counts_exact() -> None:
    z = (torch.arange(-8, 24) + 0.25) / 16  # exact binary fractions, no ties
    theta, T = 1.0, 8
    spikes, v = if_multistep(z.expand(T, -1).clone(), theta, v_init="half")
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    expected = torch.clamp(torch.floor(z * T / theta + 0.5), 0, T)
    assert torch.equal(spikes.sum(0), expected)
    assert torch.allclose(v, 0.5 * theta + T * z - theta * expected)  # charge is conserved
    spikes0, _ = if_multistep(z.expand(T, -1).clone(), theta, v_init="zero")
    assert torch.equal(spikes0.sum(0), torch.clamp(torch.floor(z * T / theta), 0, T))


def test_signed_if_takes_back_premature_spikes() -> None:
    theta = 1.0
    x = torch.tensor([[1.0], [-1.0], [0.0], [0.0]])  # net input 0 after two steps
    plain, _ = if_multistep(x, theta, v_init="half")
    signed, v = if_multistep(x, theta, v_init="half", signed=True)
    assert plain[:, 0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert signed[:, 0].tolist() == [1.0, -1.0, 0.0, 0.0]
    assert float(v) == 0.5  # charge conserved: 0.5 + 0 - θ·0
    # never negative in total, and identical to plain IF for non-negative input
    z = torch.randn(16, 500)
    s, _ = if_multistep(z, theta, signed=True)
    assert (s.cumsum(0) >= 0).all()
    zp = z.abs()
    assert torch.equal(if_multistep(zp, theta, signed=True)[0], if_multistep(zp, theta)[0])
    # the count follows the integrated input Σx much more closely than plain IF's does
    cnt = s.sum(0)
    target = torch.clamp(torch.floor(z.sum(0) / theta + 0.5), 0, 16)
    err_signed = (cnt - target).abs().mean()
    err_plain = (if_multistep(z, theta)[0].sum(0) - target).abs().mean()
    assert err_signed < 0.5 * err_plain
    assert torch.allclose(if_rate(z, theta, signed=True), theta * cnt / 16)


def test_qcfs_equals_if_rate_when_T_equals_L() -> None:
    act = QCFS(levels=4, lam_init=2.0)
    z = torch.linspace(-1, 3, 257)
    rate = if_rate(z.expand(4, -1).clone(), float(act.lam.detach()), v_init="half")
    assert torch.allclose(rate, act(z).detach(), atol=1e-6)


def test_cumulative_mean() -> None:
    out = torch.tensor([[2.0], [4.0], [0.0]])
    assert torch.allclose(cumulative_mean(out).squeeze(), torch.tensor([2.0, 3.0, 2.0]))


def test_multistep_forward_shape_binary_spikes_and_reset() -> None:
    ann = small_ann("resnet20", act="qcfs")
    x = torch.randn(3, 3, 16, 16)
    snn = convert(ann, x, 4, tune=False)
    layers = snn.spiking_layers()
    assert len(layers) == 19 and all(m.binary_spikes for _, m in layers)
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o / m.threshold))
             for _, m in layers]
    out = snn(x.unsqueeze(0).repeat(4, 1, 1, 1, 1))
    for h in hooks:
        h.remove()
    assert out.shape == (4, 3, 10)
    assert all(set(s.unique().tolist()) <= {0.0, 1.0} for s in seen)
    assert layers[0][1].v is not None
    sjf.reset_net(snn)
    assert layers[0][1].v is None
    assert torch.allclose(snn.forward_static(x, 4), out)
