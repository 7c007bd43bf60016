"""Networks the tests of several folders share."""

from __future__ import annotations

import torch
from torch import nn

from eventsnn.nn import build_model


def spiking_net(preset: str = "nmnist", **kw) -> nn.Module:
    """Preset ``preset`` (seed 0, eval mode) with its weights scaled by 4: every layer spikes."""
    torch.manual_seed(0)
    net = build_model(preset, **kw).eval()
    with torch.no_grad():  # stronger weights: every layer spikes
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(4.0)
    return net
