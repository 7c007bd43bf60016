"""Fold batch norm into the preceding convolution.

``bn(conv(x)) == conv'(x)`` in eval mode with ``W' = W·γ/σ`` and ``b' = (b − μ)·γ/σ + β``
(``σ = sqrt(var + eps)``); torch's :func:`torch.nn.utils.fusion.fuse_conv_bn_eval` does the
arithmetic. Every ``ConvBN`` unit of :mod:`eventsnn.convert.models` is folded in place.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from eventsnn.convert.models import ConvBN


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution (with bias) equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    return fuse_conv_bn_eval(conv.eval(), bn.eval())


@torch.no_grad()
def fold_bn(model: nn.Module) -> nn.Module:
    """Fold the BN of every :class:`ConvBN` unit into its conv (in place); returns ``model``.

    After folding, ``unit.bn`` is ``nn.Identity`` and ``unit.conv`` has a bias. Idempotent.
    """
    model.eval()
    for unit in model.modules():
        if isinstance(unit, ConvBN) and isinstance(unit.bn, nn.BatchNorm2d):
            unit.conv = fold_conv_bn(unit.conv, unit.bn)
            unit.bn = nn.Identity()
    return model
