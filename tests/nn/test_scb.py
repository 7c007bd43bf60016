"""Spiking convolutional blocks (SCB and plain): shapes and errors."""

from __future__ import annotations

import pytest
import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import (
    SCB,
    ConvBlock,
    Synapse,
)


def test_blocks_shapes() -> None:
    x = torch.rand(3, 2, 4, 9, 9)
    blk = SCB(4, 6, pool="avg", neuron={"n_thresholds": 3, "per_channel": True})
    assert isinstance(blk.synapse, Synapse)
    assert blk.neuron.w.shape == (6,)
    assert blk(x).shape == (3, 2, 6, 4, 4)
    plain = ConvBlock(4, 6, pool=None)
    assert plain.synapse is None
    y = plain(x)
    assert y.shape == (3, 2, 6, 9, 9)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(InvalidParameterError):
        plain(torch.rand(2, 4, 9, 9))
