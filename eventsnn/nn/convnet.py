"""The eventsnn architecture: spiking conv blocks (SCB or plain, MT-LIF neurons) and a linear
readout, built from a preset config (:mod:`eventsnn.nn.presets`).

``[T, B, P, H, W]`` -> per-step logits ``[T, B, n_classes]``; the prediction is the mean over T,
the membrane / T of a non-leaky integrator readout (``readout = "logits"``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from eventsnn.nn.geometry import check_input, flat_size
from eventsnn.nn.neuron import MTLIF
from eventsnn.nn.scb import ConvBlock, SeqToANN

__all__ = ["SpikingConvNet"]


class SpikingConvNet(nn.Module):
    """eventsnn network: conv blocks (SCB or plain, MT-LIF neurons) + linear readout.

    ``[T, B, P, H, W]`` -> per-step logits ``[T, B, n_classes]`` (see module docstring).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = copy.deepcopy(config)
        self.readout = config["readout"]
        self.log1p_input = config["input_transform"] == "log1p"
        neuron = {
            "n_thresholds": config["n_thresholds"],
            "v_threshold": config["v_threshold"],
            "init_tau": config["init_tau"],
            "learn_tau": config["learn_tau"],
            "per_channel": config["per_channel_tau"],
            "reset": config["reset"],
            "surrogate": config["surrogate"],
            "surrogate_width": config["surrogate_width"],
            "decay_input": config["decay_input"],
            "detach_reset": config["detach_reset"],
        }
        syn = {
            "init_alpha": config["init_alpha"],
            "learn_alpha": config["learn_alpha"],
            "per_channel": config["per_channel_alpha"],
        }
        blocks = []
        c_in = config["in_channels"]
        for i, c_out in enumerate(config["channels"]):
            use_syn = config["scb"] == "all" or (config["scb"] == "first" and i == 0)
            blocks.append(ConvBlock(
                c_in, c_out, kernel_size=config["kernel_size"], synapse=use_syn,
                pool=config["pool"], neuron=neuron, synapse_kwargs=syn,
            ))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        c, h, w = flat_size(config)
        head: list[nn.Module] = [nn.Flatten(1)]
        n_in = c * h * w
        if config["dropout"] > 0:
            head.append(nn.Dropout(config["dropout"]))
        self.head = SeqToANN(*head)
        self.hidden: nn.Module | None = None
        if config["fc_hidden"]:
            hid = int(config["fc_hidden"])
            n_kw = dict(neuron, per_channel=neuron["per_channel"], n_channels=hid)
            self.hidden = nn.Sequential(
                SeqToANN(nn.Linear(n_in, hid, bias=False), nn.BatchNorm1d(hid)), MTLIF(**n_kw)
            )
            n_in = hid
        self.classifier = SeqToANN(nn.Linear(n_in, config["n_classes"]))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, P, H, W]`` -> per-step logits ``[T, B, n_classes]``."""
        check_input(self.config, x_seq, self.config["preset"])
        if self.log1p_input:
            x_seq = torch.log1p(x_seq.clamp(min=0))
        y = self.head(self.features(x_seq))
        if self.hidden is not None:
            y = self.hidden(y)
        return self.classifier(y)
