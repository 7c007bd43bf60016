"""Static image datasets for ANN training and conversion (no torchvision needed).

* MNIST IDX files (``MNIST/raw/*-idx?-ubyte.gz``). The shared data holds only the official
  10,000 test images, so ``load_image_splits("mnist")`` splits them by index: the first 8,000
  train, the last 2,000 test.
* An ImageFolder layout ``<root>/{train,test}/<class>/*.jpg|png`` (e.g. ``CIFAR10``), decoded
  once with Pillow into a uint8 array held in memory.

Samples are ``(image [C, H, W] float32 normalised, label int)``; training splits optionally apply
random crop (zero padding 4) and horizontal flip (flip is off for MNIST digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from eventsnn.datasets.images import load_image_folder, load_mnist
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.paths import shared_data_dir

MNIST_TRAIN = 8000


@dataclass(frozen=True)
class ImageSplit:
    """An in-memory split: ``images`` uint8 ``[N, H, W, C]``, ``labels`` int64 ``[N]``."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


def read_image_folder(root: str | Path) -> ImageSplit:
    """Decode ``root/<class>/*.{jpg,png}`` (classes = sorted folder names) into memory, RGB."""
    images, labels, classes = load_image_folder(root)
    return ImageSplit(images, labels, tuple(classes))


def read_mnist(raw_dir: str | Path) -> ImageSplit:
    """The MNIST test IDX files in ``raw_dir`` as one split (``[10000, 28, 28, 1]``)."""
    images, labels = load_mnist(raw_dir, "test")
    return ImageSplit(images[..., None], labels, tuple(str(i) for i in range(10)))


class ImageDataset(Dataset):
    """Torch dataset over an :class:`ImageSplit`.

    ``__getitem__`` returns ``(x [C, H, W] float32, label)`` with ``x = (img/255 - mean) / std``;
    with ``augment`` a random crop after zero-padding by ``pad`` pixels and (``flip``) a random
    horizontal flip are applied first, drawn from torch's random generator (so
    ``torch.manual_seed`` makes them repeat, and DataLoader workers draw different ones).
    """

    def __init__(self, split: ImageSplit, mean: np.ndarray, std: np.ndarray,
                 augment: bool = False, flip: bool = True, pad: int = 4) -> None:
        self.split = split
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        self.augment, self.flip, self.pad = augment, flip, pad
        self.classes = split.classes

    def __len__(self) -> int:
        return len(self.split.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = self.split.images[i].transpose(2, 0, 1).astype(np.float32) / 255.0
        img = (img - self.mean) / self.std
        if self.augment:
            c, h, w = img.shape
            p = self.pad
            padded = np.zeros((c, h + 2 * p, w + 2 * p), np.float32)
            padded[:, p:p + h, p:p + w] = img
            dy, dx = torch.randint(0, 2 * p + 1, (2,)).tolist()  # torch's RNG: seeded runs repeat
            img = padded[:, dy:dy + h, dx:dx + w]
            if self.flip and torch.rand(()) < 0.5:
                img = img[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(img)), int(self.split.labels[i])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split, normalised, without augmentation: ``([N, C, H, W], [N])``."""
        x = self.split.images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        x = (x - self.mean[None]) / self.std[None]
        return torch.from_numpy(x), torch.from_numpy(self.split.labels)


def channel_stats(split: ImageSplit) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of ``split`` images scaled to [0, 1]."""
    x = split.images.reshape(-1, split.images.shape[-1]).astype(np.float64) / 255.0
    return x.mean(0).astype(np.float32), np.maximum(x.std(0), 1e-6).astype(np.float32)


def resolve_data(spec: str | Path) -> tuple[str, Path]:
    """``spec`` -> (kind, path). ``"mnist"``/``"cifar10"`` name the shared copies; anything else
    is a folder holding ``train/`` and ``test/`` (ImageFolder), or an MNIST ``raw`` folder."""
    s = str(spec)
    if s.lower() == "mnist":
        return "mnist", shared_data_dir() / "MNIST" / "raw"
    if s.lower() == "cifar10":
        return "folder", shared_data_dir() / "CIFAR10"
    path = Path(s).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"data folder not found: {path}")
    if (path / "t10k-images-idx3-ubyte.gz").is_file():
        return "mnist", path
    if not (path / "train").is_dir() or not (path / "test").is_dir():
        raise DatasetNotFoundError(f"{path} must contain train/ and test/ class folders")
    return "folder", path


def load_image_splits(spec: str | Path, augment: bool = True,
                      mean: np.ndarray | None = None, std: np.ndarray | None = None,
                      ) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) datasets for ``spec`` (see :func:`resolve_data`).

    Normalisation statistics come from the training split unless ``mean``/``std`` are given
    (a checkpoint stores the ones it was trained with). The train dataset augments when
    ``augment`` is true; the test dataset never does.
    """
    kind, path = resolve_data(spec)
    if kind == "mnist":
        if not path.is_dir():
            raise DatasetNotFoundError(f"MNIST folder not found: {path}")
        full = read_mnist(path)
        train = ImageSplit(full.images[:MNIST_TRAIN], full.labels[:MNIST_TRAIN], full.classes)
        test = ImageSplit(full.images[MNIST_TRAIN:], full.labels[MNIST_TRAIN:], full.classes)
        flip = False
    else:
        if not path.is_dir():
            raise DatasetNotFoundError(f"data folder not found: {path}")
        train, test = read_image_folder(path / "train"), read_image_folder(path / "test")
        if train.classes != test.classes:
            raise DatasetNotFoundError(f"{path}: train and test class folders differ")
        flip = True
    if mean is None or std is None:
        mean, std = channel_stats(train)
    return (ImageDataset(train, mean, std, augment=augment, flip=flip),
            ImageDataset(test, mean, std, augment=False))


def random_subset(x: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images of ``x`` in a fixed random order (ImageFolder splits are sorted by class)."""
    g = torch.Generator().manual_seed(seed)
    return x[torch.randperm(len(x), generator=g)[:n]]


@dataclass(frozen=True)
class ConversionImages:
    """The images an ANN-to-SNN conversion uses, normalised as the ANN was trained.

    Attributes:
        data: the data spec they come from (``"cifar10"``, ``"mnist"`` or a folder).
        calib: calibration images ``[N_calib, C, H, W]`` drawn from the training split.
        x_test, y_test: evaluation images ``[N, C, H, W]`` and labels ``[N]`` from the test split.
    """

    data: str
    calib: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def conversion_images(meta: dict, data: str | Path | None = None, n_calib: int = 256,
                      max_test: int = 0, seed: int = 0) -> ConversionImages:
    """Prepare the images to convert and evaluate the ANN whose metadata is ``meta``
    (:func:`eventsnn.convert.load_ann`'s second value).

    Args:
        meta: holds the ANN's normalisation (``mean``, ``std``) and its training ``data``.
        data: image data (see :func:`resolve_data`); default: the data it was trained on.
        n_calib: calibration images, a fixed random draw (``seed``) from the training split.
        max_test: evaluate on this many test images spread over the (class-sorted) split, so
            every class is in; 0: all of them.

    Raises:
        InvalidParameterError: no data given nor recorded, ``n_calib < 1`` or ``max_test < 0``.
        DatasetNotFoundError: the data folder is missing or incomplete.
    """
    if n_calib < 1:
        raise InvalidParameterError(f"n_calib (calibration images) must be >= 1, got {n_calib}")
    if max_test < 0:
        raise InvalidParameterError(f"max_test must be >= 0 (0 = every test image), got {max_test}")
    spec = data if data is not None else meta.get("data")
    if not spec:
        raise InvalidParameterError("the ANN does not name the data it was trained on; give the data")
    train_set, test_set = load_image_splits(spec, augment=False, mean=np.asarray(meta["mean"]),
                                            std=np.asarray(meta["std"]))
    x_train, _ = train_set.tensors()
    x_test, y_test = test_set.tensors()
    if max_test > 0:
        idx = torch.as_tensor(spread_indices(len(x_test), max_test), dtype=torch.long)
        x_test, y_test = x_test[idx], y_test[idx]
    return ConversionImages(str(spec), random_subset(x_train, n_calib, seed), x_test, y_test)
