"""First-order synaptic current layer ``I[t] = alpha * I[t-1] + x[t]`` (papers.md §1.4b).

The low-pass state of the Synaptic Convolutional Block: it smooths the abrupt changes between
the few, heavily compressed time steps before they reach the neurons. ``alpha = sigmoid(a)`` is
in (0, 1), learnable per layer (scalar) or per channel (``[C]``, dim 2 of ``[T, B, C, ...]``).
A :class:`spikingjelly.activation_based.base.MemoryModule`: ``reset_net`` clears the current.
"""

from __future__ import annotations

import math

import torch
from spikingjelly.activation_based import base
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.functional.neuron import (
    synapse_multistep,
    synapse_multistep_reference,
    synapse_step,
)

__all__ = ["Synapse"]


class Synapse(base.MemoryModule):
    """First-order synaptic filter.

    Args:
        init_alpha: initial decay alpha in (0, 1) (``a0 = logit(alpha0)``).
        learn_alpha: train ``a`` (else a buffer).
        per_channel: one alpha per channel (needs ``n_channels``).
        n_channels: C.
        step_mode: "m" (``[T, B, C, ...]`` in and out) or "s" (``[B, C, ...]``, state kept).
        backend: "fast" (custom autograd Function) or "reference".

    Attributes:
        i: current ``[B, C, ...]`` after the last step, or None after a reset (= 0).
    """

    def __init__(
        self,
        init_alpha: float = 0.5,
        learn_alpha: bool = True,
        per_channel: bool = False,
        n_channels: int | None = None,
        step_mode: str = "m",
        backend: str = "fast",
    ) -> None:
        super().__init__()
        if not 0.0 < init_alpha < 1.0:
            raise InvalidParameterError(f"init_alpha must be in (0, 1), got {init_alpha}")
        if per_channel and (n_channels is None or n_channels < 1):
            raise InvalidParameterError("per_channel=True needs n_channels >= 1")
        if backend not in ("fast", "reference"):
            raise InvalidParameterError(f"backend must be 'fast' or 'reference', got {backend!r}")
        self.backend = backend
        shape = (int(n_channels),) if per_channel else ()
        a = torch.full(shape, math.log(init_alpha / (1.0 - init_alpha)))
        if learn_alpha:
            self.a = nn.Parameter(a)
        else:
            self.register_buffer("a", a)
        self.register_memory("i", None)
        self.step_mode = step_mode

    @property
    def alpha(self) -> torch.Tensor:
        """Decay ``sigmoid(a)``, scalar or ``[C]``."""
        return torch.sigmoid(self.a.detach())

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x [B, C, ...]`` -> current ``[B, C, ...]``."""
        self.i = synapse_step(x, self.i, self.a)
        return self.i

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x_seq [T, B, C, ...]`` -> currents ``[T, B, C, ...]``."""
        fn = synapse_multistep if self.backend == "fast" else synapse_multistep_reference
        out = fn(x_seq, self.i, self.a)
        self.i = out[-1]
        return out

    def extra_repr(self) -> str:
        al = self.alpha
        al_s = f"{al.item():.3g}" if al.ndim == 0 else f"[{al.numel()} channels]"
        return f"alpha={al_s}, step_mode={self.step_mode}, backend={self.backend}"
