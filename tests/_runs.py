"""Helpers shared by the training tests: comparing the results of two runs."""

from __future__ import annotations

import torch


def strip_time(rows: list[dict]) -> list[dict]:
    """The metrics rows without what measures time (wall seconds per epoch, the run's CPU-seconds)."""
    return [{k: v for k, v in r.items() if k not in ("epoch_time_s", "cpu_s")} for r in rows]


def same_state(a: dict, b: dict) -> bool:
    """Two state dicts hold the same tensors, bit for bit."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
