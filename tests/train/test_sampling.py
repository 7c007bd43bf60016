"""Class-balanced epochs: BalancedSampler gives every class the same share."""

from __future__ import annotations

from collections import Counter

import pytest

from eventsnn.errors import InvalidParameterError
from eventsnn.train.sampling import BalancedSampler


def test_balanced_sampler():
    labels = [0] * 30 + [1] * 6 + [2] * 3
    s = BalancedSampler(labels, seed=1)
    s.set_epoch(0)
    first = list(s)
    assert len(first) == len(s) == 39 and Counter(labels[i] for i in first) == {0: 13, 1: 13, 2: 13}
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first
    ranks = [list(BalancedSampler(labels, 2, r, seed=1)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 20
    assert sorted(ranks[0][:19] + ranks[1][:19]) == sorted(first[:38])
    with pytest.raises(InvalidParameterError, match="rank"):
        BalancedSampler(labels, 2, 2)
