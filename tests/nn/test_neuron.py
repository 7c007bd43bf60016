"""The MT-LIF layer: graded spikes, SpikingJelly PLIF equivalence at K = 1, state and reset,
parameters, CUDA against CPU."""

from __future__ import annotations

import itertools

import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate

from eventsnn.errors import InvalidParameterError
from eventsnn.functional.neuron import (
    init_w,
)
from eventsnn.nn import MTLIF, Synapse


@pytest.mark.parametrize("k_thr", [1, 2, 4])
def test_graded_spike_values(k_thr: int) -> None:
    torch.manual_seed(0)
    m = MTLIF(n_thresholds=k_thr, v_threshold=0.5)
    x = torch.randn(6, 4, 3, 5, 5) * 3
    s = m(x)
    assert s.shape == x.shape
    values = set(s.unique().tolist())
    assert values <= set(range(k_thr + 1))
    assert max(values) == k_thr  # strong input reaches the top level
    assert s.dtype == x.dtype


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "surrogate,reset,decay_input,detach_reset",
    list(itertools.product(["arctan", "sigmoid"], ["soft", "hard"], [True, False], [False, True])),
)
def test_k1_reproduces_spikingjelly_plif(surrogate, reset, decay_input, detach_reset, dtype) -> None:
    """K = 1 == SpikingJelly ParametricLIFNode (same init_tau; soft reset <-> v_reset=None,
    hard <-> v_reset=0; arctan/sigmoid width 1 <-> ATan()/Sigmoid()): spikes, membrane, input
    gradient and w gradient, over two calls with the membrane carried (gradient through it)."""
    torch.manual_seed(4)
    sj_sur = sj_surrogate.ATan() if surrogate == "arctan" else sj_surrogate.Sigmoid()
    sj = sj_neuron.ParametricLIFNode(
        init_tau=3.0, decay_input=decay_input, v_reset=0.0 if reset == "hard" else None,
        surrogate_function=sj_sur, detach_reset=detach_reset, step_mode="m",
    ).to(dtype)
    ours = MTLIF(1, init_tau=3.0, reset=reset, surrogate=surrogate, surrogate_width=1.0,
                 decay_input=decay_input, detach_reset=detach_reset).to(dtype)
    torch.testing.assert_close(ours.w.detach(), sj.w.detach())
    x = torch.randn(6, 8, 4, 5, 5, dtype=dtype) * 1.5 + 0.8
    gs = torch.randn_like(x)
    results = []
    for m in (sj, ours):
        xx = x.clone().requires_grad_()
        s1 = m(xx)
        s2 = m(xx * 1.2)  # continues from the stored membrane (gradient flows through it)
        ((s1 + s2) * gs).sum().backward()
        results.append((torch.cat([s1, s2]).detach(), m.v.detach(), xx.grad, m.w.grad.clone()))
    (s_sj, v_sj, gx_sj, gw_sj), (s_me, v_me, gx_me, gw_me) = results
    assert 0.05 < s_sj.mean() < 0.95
    assert torch.equal(s_sj, s_me)
    if dtype == torch.float64:
        for a, b in ((v_me, v_sj), (gx_me, gx_sj), (gw_me, gw_sj)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    else:  # elementwise to ~1e-6; w.grad sums ~10^4 float32 terms (different order)
        torch.testing.assert_close(v_me, v_sj, rtol=0, atol=2e-6)
        torch.testing.assert_close(gx_me, gx_sj, rtol=0, atol=5e-6)
        torch.testing.assert_close(gw_me, gw_sj, rtol=1e-4, atol=1e-6)


def test_reset_net_resets_state() -> None:
    torch.manual_seed(5)
    m = MTLIF(2)
    x = torch.rand(3, 2, 4, 3, 3) * 2
    first = m(x)
    assert m.v is not None and m.v.shape == (2, 4, 3, 3)
    continued = m(x)
    assert not torch.equal(first, continued)  # membrane carried over
    sj_functional.reset_net(m)
    assert m.v is None
    assert torch.equal(m(x), first)


@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_single_step_equals_multi_step(reset: str) -> None:
    torch.manual_seed(6)
    x = torch.randn(5, 3, 4, 2, 2) * 2 + 0.5
    gs = torch.randn_like(x)
    outs = []
    for mode in ("m", "s"):
        m = MTLIF(3, reset=reset, per_channel=True, n_channels=4, init_tau=3.0, step_mode=mode)
        xx = x.clone().requires_grad_()
        s = m(xx) if mode == "m" else torch.stack([m(xx[t]) for t in range(x.shape[0])])
        (s * gs).sum().backward()
        outs.append((s.detach(), m.v.detach(), xx.grad, m.w.grad))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_streaming_chunks_equal_one_sequence() -> None:
    """Two multi-step calls (state carried, gradients through it) == one call over all steps."""
    torch.manual_seed(7)
    x = torch.randn(6, 2, 3, 4) * 2 + 0.5
    gs = torch.randn_like(x)
    res = []
    for chunks in ((6,), (2, 4)):
        m = MTLIF(2, per_channel=True, n_channels=3)
        xx = x.clone().requires_grad_()
        s = torch.cat([m(part) for part in xx.split(list(chunks))])
        (s * gs).sum().backward()
        res.append((s.detach(), xx.grad, m.w.grad))
    for a, b in zip(*res, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_per_channel_tau() -> None:
    torch.manual_seed(8)
    m = MTLIF(2, per_channel=True, n_channels=4, init_tau=2.0)
    assert m.w.shape == (4,)
    with torch.no_grad():
        m.w.copy_(torch.tensor([init_w(1.5), init_w(2.0), init_w(4.0), init_w(8.0)]))
    torch.testing.assert_close(m.tau, torch.tensor([1.5, 2.0, 4.0, 8.0]))
    x = (torch.rand(4, 3, 4, 5, 5) * 2).requires_grad_()
    s = m(x)
    s.sum().backward()
    assert m.w.grad.shape == (4,)
    # channel c behaves like a scalar-tau layer with tau_c (dim 2 of [T, B, C, H, W])
    for c in range(4):
        single = MTLIF(2, init_tau=float(m.tau[c]))
        torch.testing.assert_close(single(x[:, :, c : c + 1].detach()), s[:, :, c : c + 1].detach())
    with pytest.raises(InvalidParameterError):
        MTLIF(2, per_channel=True, n_channels=4)(torch.rand(2, 1, 3, 2, 2))


def test_learn_tau_false_and_record() -> None:
    m = MTLIF(2, learn_tau=False)
    assert not any(True for _ in m.parameters())
    assert "w" in dict(m.named_buffers())
    x = torch.rand(3, 2, 5) * 3
    m(x)
    assert m.last_spikes is None
    m.record = True
    s = m(x)
    assert torch.equal(m.last_spikes, s)
    assert not m.last_spikes.requires_grad


def test_no_grad_forward_matches() -> None:
    """Without gradients the fast path keeps h in a scratch buffer: same spikes and membrane."""
    torch.manual_seed(13)
    x = torch.randn(5, 2, 3, 4, 4) * 2
    for k_thr, reset in ((1, "hard"), (3, "soft")):
        a, b = MTLIF(k_thr, reset=reset), MTLIF(k_thr, reset=reset)
        with torch.no_grad():
            s_a = a(x)
        s_b = b(x.clone().requires_grad_())
        assert torch.equal(s_a, s_b.detach())
        torch.testing.assert_close(a.v, b.v.detach())


def test_reference_backend_module_matches_fast() -> None:
    torch.manual_seed(9)
    x = torch.randn(4, 2, 3, 4, 4) * 2
    a, b = MTLIF(4, backend="fast"), MTLIF(4, backend="reference")
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_thresholds": 0},
        {"v_threshold": 0.0},
        {"init_tau": 1.0},
        {"reset": "zero"},
        {"surrogate": "gaussian"},
        {"surrogate_width": -1.0},
        {"per_channel": True},
        {"backend": "cupy"},
        {"reset": "hard", "v_reset": 1.5},
    ],
)
def test_invalid_parameters_raise(kwargs) -> None:
    with pytest.raises(InvalidParameterError):
        MTLIF(**kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    torch.manual_seed(11)
    x = torch.randn(4, 3, 8, 5, 5) * 2
    gs = torch.randn_like(x)
    res = []
    for dev in ("cpu", "cuda"):
        m = MTLIF(3, per_channel=True, n_channels=8).to(dev)
        syn = Synapse(per_channel=True, n_channels=8).to(dev)
        xx = x.to(dev).requires_grad_()
        s = m(syn(xx))
        (s * gs.to(dev)).sum().backward()
        res.append([t.detach().cpu() for t in (s, xx.grad, m.w.grad, syn.a.grad)])
    for a, b in zip(*res, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
