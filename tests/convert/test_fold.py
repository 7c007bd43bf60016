"""Batch norm folded into the preceding convolution keeps the outputs."""

from __future__ import annotations

import pytest
import torch
from _conversion_files import small_ann
from torch import nn

from eventsnn.convert import (
    fold_bn,
)

torch.set_num_threads(2)


@pytest.mark.parametrize("arch", ["vgg5", "resnet20"])
def test_fold_bn_keeps_outputs(arch: str) -> None:
    ann = small_ann(arch)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = ann(x)
        folded = fold_bn(small_ann(arch))
        assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
        assert (folded(x) - ref).abs().max() < 1e-5
