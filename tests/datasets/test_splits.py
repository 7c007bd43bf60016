"""Seeded, stratified splits."""

from __future__ import annotations

import numpy as np

from eventsnn.datasets import (
    stratified_split,
)


def test_stratified_split_is_seeded_and_balanced():
    labels = np.repeat(np.arange(10), 100)
    keep, hold = stratified_split(labels, 0.1, seed=3)
    assert len(hold) == 100 and np.bincount(labels[hold]).tolist() == [10] * 10
    assert np.intersect1d(keep, hold).size == 0 and len(keep) + len(hold) == 1000
    keep2, hold2 = stratified_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(hold, hold2)
    assert not np.array_equal(hold, stratified_split(labels, 0.1, seed=4)[1])
