"""Surrogate derivatives of the spike: normalisation, peak, SpikingJelly's definitions."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import surrogate as sj_surrogate

from eventsnn.functional.neuron import (
    SURROGATES,
    surrogate_grad,
)


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
