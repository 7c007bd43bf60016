"""Seeded, stratified splits of labelled samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eventsnn.errors import InvalidParameterError

__all__ = ["group_split", "spread_indices", "stratified_split"]


def stratified_split(
    labels: Sequence[int], holdout_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into ``(keep, holdout)`` with the same class balance in each.

    For each class, ``round(n_class * holdout_fraction)`` samples (at least one when the class
    has two or more) are chosen at random with ``seed`` for the hold-out part. Both index arrays
    are sorted. The same ``labels``, fraction and seed always give the same split.
    """
    if not 0.0 < holdout_fraction < 1.0:
        raise InvalidParameterError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    hold: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n = int(round(len(idx) * holdout_fraction))
        if len(idx) >= 2:
            n = min(max(n, 1), len(idx) - 1)
        hold.append(rng.permutation(idx)[:n])
    holdout = np.sort(np.concatenate(hold)) if hold else np.zeros(0, dtype=np.int64)
    keep = np.setdiff1d(np.arange(len(labels)), holdout)
    return keep, holdout


def spread_indices(n: int, limit: int | None) -> np.ndarray:
    """``limit`` indices spread evenly over ``0..n-1`` (all of them when ``limit`` is None or >= n).

    Evenly spread rather than the first ``limit``, so a class-sorted split keeps every class.
    """
    if limit is None or limit >= n:
        return np.arange(n)
    return (np.arange(limit, dtype=np.int64) * n) // limit


def group_split(
    labels: Sequence[int], groups: Sequence[int], holdout_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split samples into ``(keep, holdout)`` by whole groups (e.g. the windows of one recording).

    The groups are split as :func:`stratified_split` splits samples, with each group's label:
    ``round(n * holdout_fraction)`` groups of each class (at least one of a class with two or
    more groups; a class with one group stays in ``keep``), chosen with ``seed``. Every sample
    goes where its group goes, so no group has samples on both sides. Both index arrays are
    sorted.

    Raises:
        InvalidParameterError: lengths differ, or the samples of one group carry different labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    if labels.shape != groups.shape:
        raise InvalidParameterError(f"group_split: {len(labels)} labels for {len(groups)} groups")
    ids, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    group_labels = labels[first]
    mixed = np.flatnonzero(group_labels[inverse] != labels)
    if len(mixed):
        raise InvalidParameterError(
            f"group_split: the samples of group {int(groups[mixed[0]])} carry different labels"
        )
    _, held_groups = stratified_split(group_labels, holdout_fraction, seed)
    held = np.isin(inverse, held_groups)
    return np.flatnonzero(~held), np.flatnonzero(held)
