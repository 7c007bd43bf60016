"""Dataset names -> how to build them: ``get_dataset("nmnist", root, split)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsnn.datasets.base import EventDataset
from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize

__all__ = ["DatasetSpec", "DATASETS", "get_dataset", "dataset_names"]


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about a dataset before opening it."""

    name: str
    sensor_size: SensorSize
    n_classes: int
    splits: tuple[str, ...]
    needs_root: bool
    description: str
    factory: Callable[..., EventDataset]


def _nmnist(root, split, transform, **kw):
    from eventsnn.datasets.nmnist import NMNIST

    return NMNIST(root, split, transform, **kw)


def _dvsgesture(root, split, transform, **kw):
    from eventsnn.datasets.dvsgesture import DVSGesture

    return DVSGesture(root, split, transform, **kw)


def _cifar10dvs(root, split, transform, **kw):
    from eventsnn.datasets.cifar10dvs import CIFAR10DVS

    return CIFAR10DVS(root, split, transform, **kw)


def _synthetic(root, split, transform, **kw):
    from eventsnn.datasets.synthetic import SyntheticShapes

    return SyntheticShapes(split, transform=transform, **kw)


def _nmnist_sim(root, split, transform, **kw):
    from eventsnn.datasets.synthetic import simulated_nmnist

    return simulated_nmnist(root, split, transform=transform, **kw)


def _cifar10dvs_sim(root, split, transform, **kw):
    from eventsnn.datasets.synthetic import simulated_cifar10dvs

    return simulated_cifar10dvs(root, split, transform=transform, **kw)


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("nmnist", (34, 34, 2), 10, ("train", "test"), True,
                    "N-MNIST recordings (Tonic layout NMNIST/Train|Test/<digit>/*.bin)", _nmnist),
        DatasetSpec("dvsgesture", (128, 128, 2), 11, ("train", "test"), True,
                    "DVS128 Gesture (Tonic layout DVSGesture/ibmGestureTrain|Test/user*/<label>.npy)", _dvsgesture),
        DatasetSpec("cifar10dvs", (128, 128, 2), 10, ("train", "test", "all"), True,
                    "CIFAR10-DVS (Tonic layout CIFAR10DVS/<class>/*.aedat4), seeded 9:1 split", _cifar10dvs),
        DatasetSpec("synthetic", (34, 34, 2), 10, ("train", "test"), False,
                    "embedded default: simulated recordings of 10 glyph classes (no files needed)", _synthetic),
        DatasetSpec("nmnist-sim", (34, 34, 2), 10, ("train", "test"), True,
                    "N-MNIST-like recordings simulated from the MNIST test images (MNIST/raw)", _nmnist_sim),
        DatasetSpec("cifar10dvs-sim", (128, 128, 2), 10, ("train", "test"), True,
                    "CIFAR10-DVS-like recordings simulated from CIFAR-10 images (CIFAR10/train|test)", _cifar10dvs_sim),
    )
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def get_dataset(
    name: str,
    root: str | Path | None = None,
    split: str = "train",
    transform: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> EventDataset:
    """Open dataset ``name`` (see :data:`DATASETS`) at ``root`` (default: shared data folder)."""
    spec = DATASETS.get(name)
    if spec is None:
        raise InvalidParameterError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if split not in spec.splits:
        raise InvalidParameterError(f"{name}: split must be one of {spec.splits}, got {split!r}")
    return spec.factory(root, split, transform, **kwargs)
