"""Shapes a model config implies: the per-step input and the size after the pooled blocks.

Shared by the architectures (:mod:`eventsnn.nn.convnet`, :mod:`eventsnn.nn.plif`) and the presets.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from eventsnn.errors import InvalidParameterError

__all__ = ["input_shape", "flat_size", "check_input"]


def input_shape(config: dict[str, Any]) -> tuple[int, int, int]:
    """``(P, H, W)`` expected per time step: ``H = ceil(sensor_h / spatial_factor)``."""
    h, w = config["sensor_size"]
    f = config["spatial_factor"]
    return int(config["in_channels"]), math.ceil(h / f), math.ceil(w / f)


def flat_size(cfg: dict[str, Any], pool_size: int = 2) -> tuple[int, int, int]:
    """``(C, H, W)`` after the conv blocks of ``cfg`` (each pooled by ``pool_size`` unless
    ``cfg["pool"]`` is None / "none")."""
    _, h, w = input_shape(cfg)
    for _ in cfg["channels"]:
        if cfg.get("pool", "max") not in (None, "none"):
            h, w = h // pool_size, w // pool_size
        if h < 1 or w < 1:
            raise InvalidParameterError(
                f"input {input_shape(cfg)} is too small for {len(cfg['channels'])} pooled blocks"
            )
    return cfg["channels"][-1], h, w


def check_input(config: dict[str, Any], x_seq: torch.Tensor, label: str) -> None:
    """Raise InvalidParameterError unless ``x_seq`` is ``[T, B, P, H, W]`` with ``(P, H, W) =
    input_shape(config)``; ``label`` names the model in the message."""
    expect = input_shape(config)
    if x_seq.ndim != 5 or tuple(x_seq.shape[2:]) != expect:
        raise InvalidParameterError(
            f"model {label!r} expects input [T, B, {expect[0]}, {expect[1]}, {expect[2]}], "
            f"got {tuple(x_seq.shape)}"
        )
