"""Which training samples an epoch draws: :class:`BalancedSampler` gives every class the same share.

With few long recordings per class (a class with one recording of 17 s next to one with three),
plain shuffling lets the big classes dominate each epoch; the balanced sampler draws every class
present ``round(N / n_classes)`` times per epoch (a class with fewer samples is repeated, one
with more is subsampled, a fresh choice every epoch), then shuffles the draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from eventsnn.errors import InvalidParameterError

__all__ = ["BalancedSampler"]


class BalancedSampler(torch.utils.data.Sampler[int]):
    """Class-balanced, seeded sample order of one epoch (drop-in for ``DistributedSampler``).

    Args:
        labels: the label of every sample ``[N]``.
        num_replicas, rank: processes sharing the epoch (DDP); rank ``r`` takes every
            ``num_replicas``-th draw starting at ``r`` (the draws are padded by repeating the
            first ones, so every rank gets as many).
        seed: the order of epoch ``e`` is a function of ``(seed, e)`` only (:meth:`set_epoch`).
    """

    def __init__(self, labels: Sequence[int] | torch.Tensor, num_replicas: int = 1, rank: int = 0,
                 seed: int = 0) -> None:
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.labels) == 0:
            raise InvalidParameterError("BalancedSampler: no samples")
        if not 0 <= rank < num_replicas:
            raise InvalidParameterError(f"BalancedSampler: rank {rank} outside 0..{num_replicas - 1}")
        self.num_replicas, self.rank, self.seed = int(num_replicas), int(rank), int(seed)
        self.classes = torch.unique(self.labels)
        self.per_class = max(1, round(len(self.labels) / len(self.classes)))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def draws(self) -> torch.Tensor:
        """All draws of this epoch (every rank's), shuffled: ``[per_class * n_classes]``."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        parts = []
        for c in self.classes:
            pool = torch.nonzero(self.labels == c).squeeze(1)
            reps = math.ceil(self.per_class / len(pool))
            parts.append(torch.cat([pool[torch.randperm(len(pool), generator=gen)] for _ in range(reps)])[: self.per_class])
        drawn = torch.cat(parts)
        return drawn[torch.randperm(len(drawn), generator=gen)]

    def __iter__(self) -> Iterator[int]:
        drawn = self.draws()
        total = len(self) * self.num_replicas
        drawn = torch.cat([drawn, drawn[: total - len(drawn)]])
        return iter(drawn[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return math.ceil(self.per_class * len(self.classes) / self.num_replicas)
