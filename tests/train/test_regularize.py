"""eventsnn.train.regularize.SynOpsPenalty: the differentiable count matches the cost meter."""

from __future__ import annotations

import pytest
import torch

from eventsnn.bench.metrics import CostMeter
from eventsnn.errors import InvalidParameterError
from eventsnn.nn.models import build_model
from eventsnn.train.regularize import SynOpsPenalty


def _model_and_input() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model("synthetic", channels=[6, 8], n_thresholds=2, in_channels=2,
                        sensor_size=[16, 16], spatial_factor=1, n_classes=3)
    x = (torch.rand(2, 5, 2, 16, 16) < 0.3).float() * 3.0  # [T, B, P, H, W] event counts
    return model.train(), x


def test_fraction_equals_the_cost_meters_unrolled_ops_of_the_spiking_inputs() -> None:
    model, x = _model_and_input()
    with CostMeter(model) as meter, SynOpsPenalty(model, weight=2.0) as penalty:
        model(x)
        meter.add_samples(x.shape[1])
        value = penalty.take()
    layers = meter.ops
    first = next(iter(layers))  # fed with data: no gradient, skipped by the penalty
    rest = [s for name, s in layers.items() if name != first]
    assert len(rest) == len(layers) - 1 >= 2
    expect = sum(s.unrolled_ops for s in rest) / sum(s.dense_ops for s in rest)
    assert 0.0 < expect
    assert penalty.last_fraction == pytest.approx(expect, rel=1e-5)
    assert float(value.detach()) == pytest.approx(2.0 * expect, rel=1e-5)
    # counting starts anew after take()
    assert penalty.take() == 0.0


def test_gradient_reaches_the_weights_before_the_spikes() -> None:
    model, x = _model_and_input()
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with SynOpsPenalty(model, weight=1.0) as penalty:
        model(x)
        penalty.take().backward()
    assert first_conv.weight.grad is not None and float(first_conv.weight.grad.abs().sum()) > 0.0


def test_zero_weight_registers_nothing_and_negative_is_rejected() -> None:
    model, x = _model_and_input()
    with SynOpsPenalty(model, weight=0.0) as penalty:
        assert not penalty.active and penalty._handles == []
        model(x)
        assert penalty.take() == 0.0
    with pytest.raises(InvalidParameterError, match="synops penalty weight"):
        SynOpsPenalty(model, weight=-0.1)
    # hooks are removed on exit
    with SynOpsPenalty(model, weight=1.0) as penalty:
        assert penalty._handles
    assert penalty._handles == []
