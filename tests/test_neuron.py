"""MT-LIF neuron and synaptic current: functional dynamics, fast path vs reference, SpikingJelly."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate

from eventsnn.errors import InvalidParameterError
from eventsnn.functional.neuron import (
    SURROGATES,
    MTLIFParams,
    init_w,
    mtlif_multistep,
    mtlif_multistep_reference,
    surrogate_grad,
    synapse_multistep,
    synapse_multistep_reference,
)
from eventsnn.nn import MTLIF, Synapse


def _run(fn, x, v0, w, p, gs, gv):
    """Values and gradients (x, w[, v0]) of ``sum(s*gs) + sum(v*gv)``."""
    s, v = fn(x, v0, w, p)
    inputs = [x, w] + ([v0] if v0 is not None else [])
    grads = torch.autograd.grad((s * gs).sum() + (v * gv).sum(), inputs)
    return (s, v, *grads)


# ---------------------------------------------------------------------------- surrogates


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("width", [0.5, 1.0, 2.0])
def test_surrogate_integrates_to_one_and_peaks_at_inverse_width(name: str, width: float) -> None:
    x = torch.linspace(-400, 400, 1_600_001, dtype=torch.float64)
    g = surrogate_grad(x, name, width)
    area = torch.trapezoid(g, x).item()
    assert area == pytest.approx(1.0, abs=2e-3)
    assert surrogate_grad(torch.zeros(1, dtype=torch.float64), name, width).item() == pytest.approx(1 / width)
    assert (g >= 0).all()


def test_surrogates_match_spikingjelly_definitions() -> None:
    x = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
    for ours, sj in (("arctan", sj_surrogate.ATan(alpha=2.0)), ("sigmoid", sj_surrogate.Sigmoid(alpha=4.0))):
        (g_sj,) = torch.autograd.grad(sj(x).sum(), x)
        assert torch.allclose(surrogate_grad(x.detach(), ours, 1.0), g_sj, atol=1e-12), ours
    # width w <-> alpha = 2/w (ATan), 4/w (Sigmoid)
    (g_sj,) = torch.autograd.grad(sj_surrogate.ATan(alpha=4.0)(x).sum(), x)
    assert torch.allclose(surrogate_grad(x.detach(), "arctan", 0.5), g_sj, atol=1e-12)


# ---------------------------------------------------------------------------- hand-computed dynamics


def test_soft_reset_multi_threshold_hand_computed() -> None:
    # tau = 2 -> k = 0.5, decay_input: h = v + 0.5 (x - v); theta = 1, K = 3, soft reset
    p = MTLIFParams(n_thresholds=3, v_threshold=1.0, reset="soft")
    w = torch.tensor(init_w(2.0))
    x = torch.tensor([4.0, 0.0, 9.0, -2.0]).view(4, 1, 1)
    # t0: h = 2.0 -> s = 2, v = 0.0 ; t1: h = 0.0 -> s = 0, v = 0
    # t2: h = 4.5 -> s = 3 (clipped), v = 1.5 ; t3: h = 1.5 + 0.5(-2 - 1.5) = -0.25 -> s = 0
    for fn in (mtlif_multistep, mtlif_multistep_reference):
        s, v = fn(x, None, w, p)
        assert s.flatten().tolist() == [2.0, 0.0, 3.0, 0.0]
        assert v.item() == pytest.approx(-0.25)


def test_hard_reset_hand_computed() -> None:
    # hard reset to v_reset = -0.5 (also the rest potential), K = 2, theta = 1, tau = 2
    p = MTLIFParams(n_thresholds=2, v_threshold=1.0, reset="hard", v_reset=-0.5)
    w = torch.tensor(init_w(2.0))
    x = torch.tensor([3.0, 1.0, 6.0]).view(3, 1)
    # v0 = -0.5; t0: h = -0.5 + 0.5(3 - 0) = 1.0 -> s = 1, v = -0.5
    # t1: h = -0.5 + 0.5(1 - 0) = 0.0 -> s = 0, v = 0.0
    # t2: h = 0 + 0.5(6 - 0.5) = 2.75 -> s = 2, v = -0.5
    for fn in (mtlif_multistep, mtlif_multistep_reference):
        s, v = fn(x, None, w, p)
        assert s.flatten().tolist() == [1.0, 0.0, 2.0]
        assert v.item() == pytest.approx(-0.5)


def test_no_decay_input_hand_computed() -> None:
    # h = (1 - k) v + x with k = 0.25 (tau = 4), theta = 1, K = 1, soft
    p = MTLIFParams(n_thresholds=1, decay_input=False)
    w = torch.tensor(init_w(4.0))
    x = torch.tensor([0.8, 0.8, 0.0]).view(3, 1)
    # t0: h = 0.8 s=0 v=0.8; t1: h = 0.6 + 0.8 = 1.4 s=1 v=0.4; t2: h = 0.3 s=0
    s, v = mtlif_multistep(x, None, w, p)
    assert s.flatten().tolist() == [0.0, 1.0, 0.0]
    assert v.item() == pytest.approx(0.3)


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


# ---------------------------------------------------------------------------- fast path == reference


@pytest.mark.parametrize(
    "k_thr,reset,decay_input,detach_reset,surrogate",
    [
        (k, r, d, dr, s)
        for k, r, d, dr, s in itertools.product(
            [1, 3], ["soft", "hard"], [True, False], [False, True], SURROGATES
        )
    ],
)
def test_fast_matches_reference(k_thr, reset, decay_input, detach_reset, surrogate) -> None:
    torch.manual_seed(1)
    for per_channel, with_v0, v_reset in ((False, False, 0.0), (True, True, -0.3 if reset == "hard" else 0.0)):
        p = MTLIFParams(n_thresholds=k_thr, reset=reset, decay_input=decay_input,
                        detach_reset=detach_reset, surrogate=surrogate, width=0.7, v_reset=v_reset)
        x = (torch.randn(5, 3, 4, 2, 2, dtype=torch.float64) * 2 + 1).requires_grad_()
        w = (torch.randn(4 if per_channel else (), dtype=torch.float64) * 0.5).requires_grad_()
        v0 = torch.randn(3, 4, 2, 2, dtype=torch.float64).requires_grad_() if with_v0 else None
        gs = torch.randn_like(x)
        gv = torch.randn_like(x[0])
        fast = _run(mtlif_multistep, x, v0, w, p, gs, gv)
        ref = _run(mtlif_multistep_reference, x, v0, w, p, gs, gv)
        assert len(fast) == len(ref)
        for a, b in zip(fast, ref, strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("threads", [1, 2])
def test_chunked_and_threaded_paths_match_reference(monkeypatch, threads: int) -> None:
    """On CPU the fast path splits the neurons into cache-sized chunks (and over a thread pool
    with several torch threads); tiny chunks of uneven size must give the reference results."""
    import eventsnn.functional._neuron_kernel as kernel

    monkeypatch.setattr(kernel, "CPU_CHUNK", 7)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(12)
        for k_thr, reset, per_channel in itertools.product([1, 4], ["soft", "hard"], [False, True]):
            p = MTLIFParams(n_thresholds=k_thr, reset=reset, surrogate="rectangular",
                            v_reset=-0.1 if reset == "hard" else 0.0)
            x = (torch.randn(3, 4, 5, 3, 3, dtype=torch.float64) * 2 + 1).requires_grad_()
            w = torch.full((5,) if per_channel else (), 0.2, dtype=torch.float64, requires_grad=True)
            v0 = torch.randn(4, 5, 3, 3, dtype=torch.float64).requires_grad_()
            gs, gv = torch.randn_like(x), torch.randn_like(x[0])
            fast = _run(mtlif_multistep, x, v0, w, p, gs, gv)
            ref = _run(mtlif_multistep_reference, x, v0, w, p, gs, gv)
            for a, b in zip(fast, ref, strict=True):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    finally:
        torch.set_num_threads(old)


def test_names_moved_to_the_kernel_stay_importable_from_functional_neuron(monkeypatch) -> None:
    """The autograd Functions and the scheduler live in ``_neuron_kernel`` (the spike maths in
    ``surrogate``); the old names still import from ``functional.neuron`` and read live state."""
    import eventsnn.functional._neuron_kernel as kernel
    import eventsnn.functional.neuron as fneuron
    import eventsnn.functional.surrogate as surrogate
    from eventsnn.functional.neuron import MTLIFFunction, SynapseFunction, _graded

    assert MTLIFFunction is kernel.MTLIFFunction and SynapseFunction is kernel.SynapseFunction
    assert _graded is surrogate.graded and fneuron.spike_fn is surrogate.spike_fn
    monkeypatch.setattr(kernel, "CPU_CHUNK", 7)
    assert fneuron._CPU_CHUNK == 7
    with pytest.raises(AttributeError):
        fneuron._no_such_name  # noqa: B018


@pytest.mark.parametrize("reset", ["soft", "hard"])
@pytest.mark.parametrize("decay_input", [True, False])
def test_gradcheck_membrane_path(reset: str, decay_input: bool) -> None:
    """Finite differences (float64) vs the hand-written backward. With ``detach_reset`` the final
    membrane has no surrogate term, so its true derivative (almost everywhere, spikes included)
    must equal the custom Function's gradient wrt x, v0 and a per-channel w."""
    torch.manual_seed(2)
    p = MTLIFParams(n_thresholds=2, v_threshold=1.0, reset=reset, detach_reset=True,
                    decay_input=decay_input, v_reset=-0.2 if reset == "hard" else 0.0)
    x = (torch.randn(4, 2, 3, 2, dtype=torch.float64) * 1.5 + 0.7).requires_grad_()
    v0 = (torch.randn(2, 3, 2, dtype=torch.float64) * 0.3).requires_grad_()
    w = torch.randn(3, dtype=torch.float64).requires_grad_()
    s, _ = mtlif_multistep(x, v0, w, p)
    assert s.sum() > 0  # spikes and resets do happen in this case
    assert torch.autograd.gradcheck(lambda a, b, c: mtlif_multistep(a, b, c, p)[1], (x, v0, w))


def test_gradcheck_subthreshold_all_outputs() -> None:
    """Below threshold MT-LIF is a linear leaky integrator: every output, including the spikes
    through their rectangular surrogate (zero away from the threshold), passes gradcheck."""
    torch.manual_seed(3)
    p = MTLIFParams(n_thresholds=1, v_threshold=10.0, surrogate="rectangular", width=1.0)
    x = torch.rand(5, 2, 3, dtype=torch.float64).requires_grad_()
    w = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, c: mtlif_multistep(a, None, c, p), (x, w))


# ---------------------------------------------------------------------------- SpikingJelly PLIF


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


# ---------------------------------------------------------------------------- modes and options


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


# ---------------------------------------------------------------------------- synapse


def test_synapse_hand_computed_and_reset() -> None:
    syn = Synapse(init_alpha=0.5, learn_alpha=False)
    x = torch.tensor([1.0, 0.0, 2.0]).view(3, 1, 1)
    assert syn(x).flatten().tolist() == [1.0, 0.5, 2.25]
    assert syn(x).flatten().tolist() == [2.125, 1.0625, 2.53125]  # state carried
    sj_functional.reset_net(syn)
    assert syn.i is None
    assert syn(x).flatten().tolist() == [1.0, 0.5, 2.25]


@pytest.mark.parametrize("per_channel", [False, True])
def test_synapse_fast_matches_reference_and_single_step(per_channel: bool) -> None:
    torch.manual_seed(10)
    x = torch.randn(5, 2, 3, 2, 2, dtype=torch.float64)
    a = torch.randn(3 if per_channel else (), dtype=torch.float64)
    i0 = torch.randn(2, 3, 2, 2, dtype=torch.float64)
    g = torch.randn_like(x)
    res = []
    for fn in (synapse_multistep, synapse_multistep_reference):
        xx, aa, ii = (t.clone().requires_grad_() for t in (x, a, i0))
        out = fn(xx, ii, aa)
        res.append((out, *torch.autograd.grad((out * g).sum(), (xx, aa, ii))))
    for u, v in zip(*res, strict=True):
        torch.testing.assert_close(u, v, rtol=1e-12, atol=1e-12)
    xx, aa, ii = (t.clone().requires_grad_() for t in (x, a, i0))
    assert torch.autograd.gradcheck(synapse_multistep, (xx, ii, aa))
    # single-step module == multi-step module
    m_s = Synapse(init_alpha=0.3, per_channel=per_channel, n_channels=3, step_mode="s").double()
    m_m = Synapse(init_alpha=0.3, per_channel=per_channel, n_channels=3, step_mode="m").double()
    torch.testing.assert_close(torch.stack([m_s(x[t]) for t in range(5)]), m_m(x))


def test_synapse_alpha_learns_and_is_bounded() -> None:
    syn = Synapse(init_alpha=0.9, per_channel=True, n_channels=2)
    assert syn.a.shape == (2,)
    torch.testing.assert_close(syn.alpha, torch.tensor([0.9, 0.9]))
    out = syn(torch.ones(4, 1, 2, 3))
    out.sum().backward()
    assert (syn.a.grad > 0).all()
    with pytest.raises(InvalidParameterError):
        Synapse(init_alpha=1.0)


# ---------------------------------------------------------------------------- CUDA


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


def test_init_w_inverse() -> None:
    for tau in (1.5, 2.0, 10.0):
        assert 1 / (1 + math.exp(-init_w(tau))) == pytest.approx(1 / tau)
