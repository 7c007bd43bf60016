"""Synaptic geometry of ``Linear`` / ``Conv`` layers: which layers perform synaptic operations,
and how many connections each input element drives (its fan-out).

Shared by the cost meter (:mod:`eventsnn.bench.metrics`, which counts synaptic operations the
NeuroBench way) and by the training penalty on them (:mod:`eventsnn.train.regularize`), so both
count the same connections.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SYNAPTIC_LAYERS", "synaptic_layers", "feature_dims", "fanout", "connection_counts"]

SYNAPTIC_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def synaptic_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Linear / Conv layer (the layers synaptic operations count)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, SYNAPTIC_LAYERS)]


def feature_dims(layer: nn.Module) -> int:
    """Number of trailing input dims that make one input 'row' of ``layer`` (1 for Linear,
    ``[C, H, W]`` = 3 for Conv2d, ...)."""
    if isinstance(layer, nn.Linear):
        return 1
    if isinstance(layer, nn.Conv1d):
        return 2
    if isinstance(layer, nn.Conv2d):
        return 3
    return 4


def _apply(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, nn.Linear):
        return F.linear(x, weight)
    return layer._conv_forward(x, weight, None)  # type: ignore[operator]


def fanout(layer: nn.Module, feat_shape: tuple[int, ...], weight: torch.Tensor | None = None) -> torch.Tensor:
    """``[*feat_shape]`` float64: the number of (weight, output) connections each input element
    of ``layer`` drives, for the 0/1 connectivity ``weight`` (default: the layer's nonzero
    weights; ``torch.ones_like(layer.weight)`` gives the dense count).

    The gradient of ``sum(layer(x))`` with respect to ``x`` under 0/1 weights is exactly that
    count, whatever the stride, padding, dilation or groups.
    """
    if weight is None:
        weight = layer.weight != 0
    with torch.enable_grad():
        x = torch.zeros((1, *feat_shape), dtype=torch.float64, requires_grad=True)
        y = _apply(layer, x, weight.detach().to(torch.float64))
        (g,) = torch.autograd.grad(y.sum(), x)
    return g[0].round()


def connection_counts(layer: nn.Module, feat_shape: tuple[int, ...]) -> tuple[torch.Tensor, float]:
    """``(fanout, dense)`` of one input row ``[*feat_shape]`` of ``layer``: the float64 fan-out of
    each input element over the nonzero weights (:func:`fanout`), and the number of connections
    of the row if every weight were nonzero (the dense operations of one fully active row)."""
    return fanout(layer, feat_shape), float(fanout(layer, feat_shape, torch.ones_like(layer.weight)).sum())
