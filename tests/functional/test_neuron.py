"""MT-LIF and synaptic-current dynamics as pure functions: hand-computed values, the fast kernels
against the reference, gradcheck."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from eventsnn.functional.neuron import (
    SURROGATES,
    MTLIFParams,
    init_w,
    mtlif_multistep,
    mtlif_multistep_reference,
    synapse_multistep,
    synapse_multistep_reference,
)
from eventsnn.nn import Synapse


def _run(fn, x, v0, w, p, gs, gv):
    """Values and gradients (x, w[, v0]) of ``sum(s*gs) + sum(v*gv)``."""
    s, v = fn(x, v0, w, p)
    inputs = [x, w] + ([v0] if v0 is not None else [])
    grads = torch.autograd.grad((s * gs).sum() + (v * gv).sum(), inputs)
    return (s, v, *grads)


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


def test_init_w_inverse() -> None:
    for tau in (1.5, 2.0, 10.0):
        assert 1 / (1 + math.exp(-init_w(tau))) == pytest.approx(1 / tau)
