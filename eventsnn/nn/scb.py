"""Spiking convolutional blocks: the Synaptic Convolutional Block (SCB) and the plain block.

SCB (papers.md §1.4b): ``conv -> BN -> synaptic current I[t] = alpha*I[t-1] + x[t] -> MT-LIF``
followed by optional pooling. The plain block drops the synapse: ``conv -> BN -> MT-LIF``.
Convolution, batch-norm and pooling are stateless and run on the flattened ``[T*B, C, H, W]``
tensor (SpikingJelly's ``SeqToANNContainer`` style, so BN statistics pool over time and batch);
the synapse and the neuron run over time.

Input ``[T, B, C_in, H, W]`` -> output ``[T, B, C_out, H', W']`` with ``H' = H // pool_size``
(after ``kernel_size``/``padding``/``stride`` of the convolution) when pooling.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.neuron import MTLIF
from eventsnn.nn.synapse import Synapse

__all__ = ["ConvBlock", "SCB", "SeqToANN"]


class SeqToANN(nn.Module):
    """Apply stateless modules to ``[T, B, ...]`` by flattening to ``[T*B, ...]`` and back."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__()
        self.body = modules[0] if len(modules) == 1 else nn.Sequential(*modules)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        y = self.body(x_seq.flatten(0, 1))
        return y.unflatten(0, x_seq.shape[:2])


class ConvBlock(nn.Module):
    """``conv -> BN -> [synapse] -> MT-LIF -> [pool]`` on ``[T, B, C, H, W]`` (multi-step only).

    Args:
        in_channels, out_channels: convolution channels.
        kernel_size, stride, padding: convolution geometry (padding None = kernel_size // 2).
        synapse: insert the first-order synaptic current (this makes it an SCB).
        pool: "max", "avg" or None, applied after the neuron.
        pool_size: pooling kernel and stride.
        neuron: keyword arguments of :class:`MTLIF` (``per_channel`` gets ``n_channels`` here).
        synapse_kwargs: keyword arguments of :class:`Synapse` (``init_alpha``, ``learn_alpha``,
            ``per_channel``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        synapse: bool = False,
        pool: str | None = "max",
        pool_size: int = 2,
        neuron: dict[str, Any] | None = None,
        synapse_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        pad = kernel_size // 2 if padding is None else padding
        self.conv_bn = SeqToANN(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        syn_kw = dict(synapse_kwargs or {})
        if syn_kw.get("per_channel"):
            syn_kw["n_channels"] = out_channels
        self.synapse = Synapse(**syn_kw) if synapse else None
        n_kw = dict(neuron or {})
        if n_kw.get("per_channel"):
            n_kw["n_channels"] = out_channels
        self.neuron = MTLIF(**n_kw)
        if pool is None or pool == "none":
            self.pool = None
        elif pool == "max":
            self.pool = SeqToANN(nn.MaxPool2d(pool_size, pool_size))
        elif pool == "avg":
            self.pool = SeqToANN(nn.AvgPool2d(pool_size, pool_size))
        else:
            raise InvalidParameterError(f"pool must be 'max', 'avg' or None, got {pool!r}")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, C_in, H, W]`` -> ``[T, B, C_out, H', W']`` graded spikes."""
        if x_seq.ndim != 5:
            raise InvalidParameterError(
                f"expected input [T, B, C, H, W], got shape {tuple(x_seq.shape)}"
            )
        y = self.conv_bn(x_seq)
        if self.synapse is not None:
            y = self.synapse(y)
        y = self.neuron(y)
        if self.pool is not None:
            y = self.pool(y)
        return y


class SCB(ConvBlock):
    """Synaptic Convolutional Block: :class:`ConvBlock` with ``synapse=True``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        kwargs["synapse"] = True
        super().__init__(in_channels, out_channels, **kwargs)
