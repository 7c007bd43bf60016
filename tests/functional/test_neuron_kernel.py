"""The hand-written MT-LIF kernel (:mod:`eventsnn.functional._neuron_kernel`) when only some
outputs carry a gradient or only some inputs need one: each of its backward branches (no
``dL/ds``, no ``dL/dv_T``, no ``dL/dx``, frozen ``w``, a constant ``v0``) against the
plain-autograd reference, on the whole tensor and on tiny uneven chunks over two threads."""

from __future__ import annotations

import itertools

import pytest
import torch

import eventsnn.functional._neuron_kernel as kernel
from eventsnn.functional.neuron import MTLIFParams, mtlif_multistep, mtlif_multistep_reference

#: which outputs the loss uses and which inputs require a gradient
CASES = {
    "spikes only": dict(loss="s"),
    "membrane only": dict(loss="v"),
    "frozen w": dict(w_grad=False),
    "constant input": dict(x_grad=False),
    "constant v0": dict(v0_grad=False),
}


def _grads(fn, x, v0, w, p, gs, gv, loss):
    s, v = fn(x, v0, w, p)
    total = (s * gs).sum() if loss == "s" else (v * gv).sum() if loss == "v" else (s * gs).sum() + (v * gv).sum()
    inputs = [t for t in (x, w, v0) if t is not None and t.requires_grad]
    return [s.detach(), v.detach(), *torch.autograd.grad(total, inputs)]


def _inputs(dtype, per_channel, x_grad=True, w_grad=True, v0_grad=True, loss="both"):
    x = (torch.randn(5, 3, 4, 2, 3, dtype=torch.float64) * 2 + 0.8).to(dtype).requires_grad_(x_grad)
    w = (torch.randn(4 if per_channel else (), dtype=torch.float64) * 0.5).to(dtype).requires_grad_(w_grad)
    v0 = (torch.randn(3, 4, 2, 3, dtype=torch.float64) * 0.5).to(dtype).requires_grad_(v0_grad)
    gs, gv = torch.randn_like(x), torch.randn_like(x[0])
    return x, v0, w, gs, gv


def _params():
    for (k_thr, surrogate), reset, decay_input, detach_reset in itertools.product(
        [(1, "arctan"), (3, "rectangular"), (3, "sigmoid")], ["soft", "hard"], [True, False], [False, True]
    ):
        yield MTLIFParams(n_thresholds=k_thr, reset=reset, decay_input=decay_input,
                          detach_reset=detach_reset, surrogate=surrogate, width=0.8,
                          v_reset=-0.3 if reset == "hard" else 0.0)


def _check(case: dict, dtype: torch.dtype, tol: float) -> int:
    spiking = 0
    for p, per_channel, with_v0 in itertools.product(_params(), [False, True], [False, True]):
        if not with_v0 and "v0_grad" in case:
            continue
        x, v0, w, gs, gv = _inputs(dtype, per_channel, **case)
        v0 = v0 if with_v0 else None
        fast = _grads(mtlif_multistep, x, v0, w, p, gs, gv, case.get("loss"))
        ref = _grads(mtlif_multistep_reference, x, v0, w, p, gs, gv, case.get("loss"))
        assert len(fast) == len(ref) == 2 + x.requires_grad + w.requires_grad + (v0 is not None and v0.requires_grad)
        assert torch.equal(fast[0], ref[0])  # the spikes, exactly
        for a, b in zip(fast[1:], ref[1:], strict=True):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
        spiking += bool(0 < fast[0].mean() < p.n_thresholds)
    return spiking


@pytest.mark.parametrize("case", list(CASES))
def test_partial_gradients_match_reference(case: str) -> None:
    torch.manual_seed(21)
    assert _check(CASES[case], torch.float64, 1e-10) > 0


@pytest.mark.parametrize("case", list(CASES))
def test_partial_gradients_chunked_and_threaded(monkeypatch, case: str) -> None:
    """Chunks of 7 elements (uneven, per-channel rows split) over two torch threads."""
    monkeypatch.setattr(kernel, "CPU_CHUNK", 7)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(22)
        assert _check(CASES[case], torch.float64, 1e-10) > 0
    finally:
        torch.set_num_threads(old)


def test_float32_matches_reference() -> None:
    """Single precision: the same spikes; values and gradients to float32 rounding."""
    torch.manual_seed(23)
    assert _check({}, torch.float32, 2e-4) > 0
