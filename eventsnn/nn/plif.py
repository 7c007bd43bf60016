"""The SpikingJelly PLIF baseline (Fang et al. 2021, N-MNIST recipe), the ``plif`` preset.

Built from SpikingJelly's own ``layer.*`` and ``neuron.ParametricLIFNode`` in step mode 'm', so
it is the reference eventsnn is compared with, not a re-implementation.
``[T, B, P, H, W]`` -> spike rates ``[T, B, n_classes]`` (``readout = "rate"``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from spikingjelly.activation_based import layer as sj_layer
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.geometry import check_input, flat_size

__all__ = ["PLIFNet"]


class PLIFNet(nn.Module):
    """SpikingJelly PLIF reference network (Fang et al. 2021, N-MNIST recipe), step mode 'm'.

    {Conv(c)-BN-PLIF-MaxPool2} per entry of ``channels`` - Dropout - FC(fc_hidden) - PLIF -
    Dropout - FC(fc_vote) - PLIF - VotingLayer(voting_size). PLIF = ``ParametricLIFNode(init_tau,
    v_reset=0 (hard), surrogate ATan(), detach_reset)``; dropout masks are shared over time
    (SpikingJelly ``layer.Dropout``). ``[T, B, P, H, W]`` -> spike rates ``[T, B, n_classes]``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = copy.deepcopy(config)
        self.readout = config["readout"]
        if config["fc_vote"] != config["n_classes"] * config["voting_size"]:
            raise InvalidParameterError(
                f"fc_vote ({config['fc_vote']}) must equal n_classes * voting_size "
                f"({config['n_classes']} * {config['voting_size']})"
            )

        def plif() -> nn.Module:
            return sj_neuron.ParametricLIFNode(
                init_tau=float(config["init_tau"]), detach_reset=bool(config["detach_reset"]),
                surrogate_function=sj_surrogate.ATan(), step_mode="m",
            )

        layers: list[nn.Module] = []
        c_in = config["in_channels"]
        for c_out in config["channels"]:
            layers += [
                sj_layer.Conv2d(c_in, c_out, 3, padding=1, bias=False, step_mode="m"),
                sj_layer.BatchNorm2d(c_out, step_mode="m"),
                plif(),
                sj_layer.MaxPool2d(2, 2, step_mode="m"),
            ]
            c_in = c_out
        c, h, w = flat_size(dict(config, pool="max"))
        layers += [
            sj_layer.Flatten(step_mode="m"),
            sj_layer.Dropout(config["dropout"], step_mode="m"),
            sj_layer.Linear(c * h * w, config["fc_hidden"], bias=False, step_mode="m"),
            plif(),
            sj_layer.Dropout(config["dropout"], step_mode="m"),
            sj_layer.Linear(config["fc_hidden"], config["fc_vote"], bias=False, step_mode="m"),
            plif(),
            sj_layer.VotingLayer(config["voting_size"], step_mode="m"),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, P, H, W]`` -> per-step voting-layer rates ``[T, B, n_classes]``."""
        check_input(self.config, x_seq, "plif")
        return self.net(x_seq)
