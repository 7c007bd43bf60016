"""A training penalty on synaptic operations: fewer spikes where they cost the most.

:class:`SynOpsPenalty` (the :class:`~eventsnn.run.probes.OpsFraction` probe with a weight) hooks
every ``Linear`` / ``Conv`` layer of a model and, over each forward pass, adds up a
differentiable count of the synaptic operations its inputs cause::

    ops   = sum_i |x_i| * fanout_i     (x: the layer's input, fanout: connections it drives)
    dense = every connection, every input active
    penalty = weight * sum_layers(ops) / sum_layers(dense)

``ops`` is the unrolled count that the cost meter (:mod:`eventsnn.bench.metrics`) reports too
(a graded spike of value ``s`` counts ``s`` times), so the penalty is a fraction of the dense
cost in ``[0, K]``; it does not depend on the batch size or on ``T``. Through the surrogate gradient it lowers the firing of
each spiking layer in proportion to how many connections its spikes drive. Layers whose input
carries no gradient (the first layer, fed with data) are skipped: their cost does not depend on
the weights. With ``weight = 0`` no hook is registered and training is unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.run.probes import OpsFraction

__all__ = ["SynOpsPenalty"]


class SynOpsPenalty(OpsFraction):
    """Differentiable synaptic-operation fraction of the forward passes since the last :meth:`take`
    (the :class:`~eventsnn.run.probes.OpsFraction` probe, times ``weight``).

    Args:
        model: the network (its Linear / Conv layers are hooked while the context is open).
        weight: multiplier of the fraction in the loss (0 disables the penalty: no hook).

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
        super().__init__(model)
        self.model = model
        self.weight = float(weight)
        self.last_fraction = 0.0  #: the fraction (without ``weight``) of the last :meth:`take`

    @property
    def active(self) -> bool:
        return self.weight > 0.0

    def attach(self) -> SynOpsPenalty:
        """Register the hooks when the penalty is on (idempotent)."""
        if self.active:
            super().attach()
        return self

    def __enter__(self) -> SynOpsPenalty:
        return self.attach()

    def take(self) -> torch.Tensor | float:  # type: ignore[override]
        """``weight * ops / dense`` of the passes since the last call (a scalar tensor with a
        gradient; ``0.0`` when inactive or nothing was counted), and start counting anew."""
        frac = super().take()
        if frac is None:
            self.last_fraction = 0.0
            return 0.0
        self.last_fraction = float(frac.detach())
        return self.weight * frac
