"""A training penalty on synaptic operations: fewer spikes where they cost the most.

:class:`SynOpsPenalty` hooks every ``Linear`` / ``Conv`` layer of a model and, over each
forward pass, adds up a differentiable count of the synaptic operations its inputs cause::

    ops   = sum_i |x_i| * fanout_i     (x: the layer's input, fanout: connections it drives)
    dense = every connection, every input active
    penalty = weight * sum_layers(ops) / sum_layers(dense)

``ops`` is the unrolled count of :mod:`eventsnn.bench.metrics` (a graded spike of value ``s``
counts ``s`` times), so the penalty is a fraction of the dense cost in ``[0, K]``; it does not
depend on the batch size or on ``T``. Through the surrogate gradient it lowers the firing of
each spiking layer in proportion to how many connections its spikes drive. Layers whose input
carries no gradient (the first layer, fed with data) are skipped: their cost does not depend on
the weights. With ``weight = 0`` no hook is registered and training is unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.synops import connection_counts, feature_dims, synaptic_layers

__all__ = ["SynOpsPenalty"]


class SynOpsPenalty:
    """Differentiable synaptic-operation fraction of the forward passes since the last :meth:`take`.

    Args:
        model: the network (its Linear / Conv layers are hooked while the context is open).
        weight: multiplier of the fraction in the loss (0 disables the penalty).

    Use::

        with SynOpsPenalty(model, weight=0.5) as penalty:
            out = model(x_seq)                 # [T, B, n_classes]
            loss = loss_fn(out.mean(0), y) + penalty.take()

    ``eventsnn train`` records the mean fraction of each epoch as ``train_synops_fraction`` in
    ``metrics.csv`` when the penalty is on.
    """

    def __init__(self, model: nn.Module, weight: float) -> None:
        if not weight >= 0.0:
            raise InvalidParameterError(f"synops penalty weight must be >= 0, got {weight}")
        self.model = model
        self.weight = float(weight)
        self._fanouts: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, float]] = {}
        self._handles: list[Any] = []
        self._ops: torch.Tensor | None = None
        self._dense = 0.0
        self.last_fraction = 0.0  #: the fraction (without ``weight``) of the last :meth:`take`

    @property
    def active(self) -> bool:
        return self.weight > 0.0

    def _hook(self, name: str, layer: nn.Module):
        def hook(_m: nn.Module, inputs: tuple[Any, ...], _out: Any) -> None:
            x = inputs[0]
            if not (torch.is_grad_enabled() and x.requires_grad):
                return
            feat = tuple(x.shape[-feature_dims(layer):])
            key = (name, feat)
            if key not in self._fanouts:
                fan, dense = connection_counts(layer, feat)
                self._fanouts[key] = (fan.to(device=x.device, dtype=torch.float32), dense)
            fan, dense = self._fanouts[key]
            rows = x.reshape(-1, *feat)
            ops = (rows.abs().float().sum(0) * fan).sum()
            self._ops = ops if self._ops is None else self._ops + ops
            self._dense += dense * rows.shape[0]

        return hook

    def __enter__(self) -> SynOpsPenalty:
        if self.active and not self._handles:
            self._handles = [m.register_forward_hook(self._hook(n, m)) for n, m in synaptic_layers(self.model)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._ops, self._dense = None, 0.0

    def take(self) -> torch.Tensor | float:
        """``weight * ops / dense`` of the passes since the last call (a scalar tensor with a
        gradient; ``0.0`` when inactive or nothing was counted), and start counting anew."""
        ops, dense = self._ops, self._dense
        self._ops, self._dense = None, 0.0
        if ops is None or dense == 0.0:
            self.last_fraction = 0.0
            return 0.0
        frac = ops / dense
        self.last_fraction = float(frac.detach())
        return self.weight * frac
