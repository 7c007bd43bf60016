"""Readers of the static image sets (MNIST idx files)."""

from __future__ import annotations

import torch

from eventsnn.datasets.images import read_idx

torch.set_num_threads(2)


def test_read_mnist_idx(data_dir) -> None:
    labels = read_idx(data_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels[:5].tolist() == [7, 2, 1, 0, 4]
