"""Small conversion inputs shared by the tests of ``eventsnn.convert`` and of the ``convert`` /
``bench`` commands: a tiny image folder (two classes, 12x12 RGB), an untrained VGG-5 ANN saved for
it, small ANNs with randomised batch-norm statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from eventsnn.convert import ModelConfig, build_model, save_ann


def write_tiny_ann(folder: Path, per_class: int) -> torch.nn.Module:
    """``folder/images/{train,test}/{dark,light}/<i>.png`` and ``folder/ann.pt`` (data = that
    image folder, mean 0.5, std 0.25); returns the ANN."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k, cls in enumerate(("dark", "light")):
            (folder / "images" / split / cls).mkdir(parents=True)
            for i in range(per_class):
                arr = np.clip((40 if k == 0 else 200) + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(folder / "images" / split / cls / f"{i}.png")
    torch.manual_seed(0)
    ann = build_model(ModelConfig(arch="vgg5", width=0.25, n_classes=2)).eval()
    save_ann(folder / "ann.pt", ann, mean=[0.5] * 3, std=[0.25] * 3, classes=("dark", "light"),
             data=str(folder / "images"))
    return ann


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.3 * torch.randn(c, generator=g))
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            m.weight.data.copy_(0.8 + 0.4 * torch.rand(c, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(c, generator=g))
    return model.eval()


def small_ann(arch: str = "vgg5", act: str = "relu", **kw) -> nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, act=act, width=kw.pop("width", 0.25), lam_init=2.0, **kw)
    return randomise_bn(build_model(cfg))


def tiny_image_folder(root, n_per_class: int = 6, size: int = 12) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k, cls in enumerate(("dark", "light")):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(n_per_class):
                base = 40 if k == 0 else 200
                arr = np.clip(base + rng.normal(0, 20, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(d / f"{i:03d}.png")
