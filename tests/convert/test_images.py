"""Static image datasets for ANN training and conversion: folders and augmentation."""

from __future__ import annotations

import pytest
import torch
from _conversion_files import tiny_image_folder

from eventsnn.convert import conversion_images, load_ann
from eventsnn.convert.images import ImageDataset, read_image_folder
from eventsnn.errors import InvalidParameterError

torch.set_num_threads(2)


def test_image_folder_dataset_and_augmentation(tmp_path) -> None:
    tiny_image_folder(tmp_path)
    split = read_image_folder(tmp_path / "train")
    assert split.images.shape == (12, 12, 12, 3) and split.classes == ("dark", "light")
    ds = ImageDataset(split, mean=[0.5] * 3, std=[0.25] * 3, augment=True)
    x, y = ds[7]
    assert x.shape == (3, 12, 12) and x.dtype == torch.float32 and y == 1
    xs, ys = ImageDataset(split, [0.5] * 3, [0.25] * 3).tensors()
    assert xs.shape == (12, 3, 12, 12) and ys.tolist() == [0] * 6 + [1] * 6


def test_conversion_images(ann_dir):
    _, meta = load_ann(ann_dir / "ann.pt")
    imgs = conversion_images(meta, n_calib=3, max_test=2)
    assert imgs.data == str(ann_dir / "images") and imgs.calib.shape == (3, 3, 12, 12)
    assert imgs.x_test.shape == (2, 3, 12, 12) and sorted(imgs.y_test.tolist()) == [0, 1]  # spread: both classes
    # normalised with the ANN's statistics: a dark image sits below (0.5 - 0.5) / 0.25 = 0 on average
    assert float(imgs.x_test[imgs.y_test == 0].mean()) < -1.0 < 1.0 < float(imgs.x_test[imgs.y_test == 1].mean())
    assert torch.equal(conversion_images(meta, n_calib=3).calib, imgs.calib)  # a fixed draw
    everything = conversion_images(meta, ann_dir / "images", n_calib=100)
    assert everything.calib.shape[0] == 8 and everything.x_test.shape[0] == 8
    with pytest.raises(InvalidParameterError, match="n_calib"):
        conversion_images(meta, n_calib=0)
    with pytest.raises(InvalidParameterError, match="max_test"):
        conversion_images(meta, max_test=-1)
    with pytest.raises(InvalidParameterError, match="does not name the data"):
        conversion_images({**meta, "data": ""})
