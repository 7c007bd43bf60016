"""The synaptic-current layer: hand-computed values, reset, a learnable bounded alpha."""

from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional as sj_functional

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import Synapse


def test_synapse_hand_computed_and_reset() -> None:
    syn = Synapse(init_alpha=0.5, learn_alpha=False)
    x = torch.tensor([1.0, 0.0, 2.0]).view(3, 1, 1)
    assert syn(x).flatten().tolist() == [1.0, 0.5, 2.25]
    assert syn(x).flatten().tolist() == [2.125, 1.0625, 2.53125]  # state carried
    sj_functional.reset_net(syn)
    assert syn.i is None
    assert syn(x).flatten().tolist() == [1.0, 0.5, 2.25]


def test_synapse_alpha_learns_and_is_bounded() -> None:
    syn = Synapse(init_alpha=0.9, per_channel=True, n_channels=2)
    assert syn.a.shape == (2,)
    torch.testing.assert_close(syn.alpha, torch.tensor([0.9, 0.9]))
    out = syn(torch.ones(4, 1, 2, 3))
    out.sum().backward()
    assert (syn.a.grad > 0).all()
    with pytest.raises(InvalidParameterError):
        Synapse(init_alpha=1.0)
