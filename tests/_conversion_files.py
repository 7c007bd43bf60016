"""A tiny image folder (two classes, 12x12 RGB) and an untrained VGG-5 ANN saved for it, for the
command-line tests of ``eventsnn convert`` and ``eventsnn bench``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

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
