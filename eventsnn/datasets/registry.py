"""Dataset names -> every fact about them: how to build one (``get_dataset("nmnist", root, split)``),
its sensor and classes, how a ``limit`` opens it, and the defaults of a training run on it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventsnn.datasets.base import EventDataset
from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize

__all__ = ["DatasetSpec", "TrainingDefaults", "DATASETS", "dataset_spec", "get_dataset", "dataset_names"]


@dataclass(frozen=True)
class TrainingDefaults:
    """What ``eventsnn train`` uses for the settings a run leaves open (``None``), per dataset.

    The defaults of the fields are those of a compressed file from an unknown dataset.
    """

    preset: str = "nmnist"
    T: int = 4
    epochs: int = 10
    batch_size: int = 16
    spatial_factor: int | None = None  # None: the model preset's
    #: per model preset, overrides of its config for this dataset (under the run's and the
    #: recipe's own), e.g. ``{"plif": {"channels": [64, 64]}}``
    preset_model: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about a dataset before opening it.

    Attributes:
        name, sensor_size ``(W, H, P)``, n_classes, splits, description: the dataset.
        needs_root: its files must be on disk (else it is generated).
        factory: ``factory(root, split, transform, **kwargs) -> EventDataset``.
        training: defaults of a training run on it (:class:`TrainingDefaults`).
        simulated: its recordings are generated in memory, a pure function of
            ``(seed, split, index)`` (:func:`eventsnn.datasets.open_split` keeps the last ones).
        limit_keyword: the factory keyword that generates only the samples a ``limit`` keeps
            (``None``: the factory opens every sample and the limit picks from them).
        limit_per_class: ``limit_keyword`` counts samples per class.
        sizes: samples per split generated when no ``limit`` is given (through ``limit_keyword``).
        source_patterns: glob patterns, relative to the root, of the files a simulated dataset
            is made from (their sizes and modification times identify a cached copy of it, see
            :mod:`eventsnn.train.cache`); empty for a dataset made from nothing but code.
        options: the dataset's options (factory keywords, JSON-able) and their defaults, e.g.
            the window length of a dataset whose samples are windows of long recordings. A
            training run records the values it used (``TrainConfig.dataset_options``), so
            evaluation and benchmarks open the dataset with the same ones.
        training_kwargs: factory keywords that open the *training* part of a split (e.g.
            overlapping windows ``{"windows": "train"}``); validation and test samples are
            opened without them. Such a dataset's samples carry ``groups`` (the recording each
            came from): hold-outs take whole recordings (:mod:`eventsnn.datasets.selection`).
    """

    name: str
    sensor_size: SensorSize
    n_classes: int
    splits: tuple[str, ...]
    needs_root: bool
    description: str
    factory: Callable[..., EventDataset]
    training: TrainingDefaults = field(default_factory=TrainingDefaults)
    simulated: bool = False
    limit_keyword: str | None = None
    limit_per_class: bool = False
    sizes: Mapping[str, int] = field(default_factory=dict, hash=False)
    source_patterns: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    training_kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def resolve_options(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The dataset options: its defaults updated with ``given``; an unknown name raises
        InvalidParameterError naming the valid ones."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) if self.options else "none"
            raise InvalidParameterError(f"{self.name}: unknown dataset option(s) {unknown}; valid: {valid}")
        return {**self.options, **given}

    def factory_kwargs(self, split: str, limit: int | None, progress: bool = False) -> dict[str, Any]:
        """Keyword arguments of :attr:`factory` that open ``split`` for ``limit`` samples."""
        if self.limit_keyword is None:
            return {}
        n = limit if limit is not None else self.sizes.get(split)
        if n is not None and self.limit_per_class:
            n = math.ceil(n / self.n_classes)
        return {self.limit_keyword: n, "progress": progress}


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


def _dvs128objects(root, split, transform, **kw):
    from eventsnn.datasets.dvs128objects import object_windows

    return object_windows(root, split, transform, **kw)


def _cifar10dvs_sim(root, split, transform, **kw):
    from eventsnn.datasets.synthetic import simulated_cifar10dvs

    return simulated_cifar10dvs(root, split, transform=transform, **kw)


#: ``dvs128objects`` options: the keywords of :func:`eventsnn.datasets.dvs128objects.object_windows`
#: and their defaults (a test checks they agree; the registry imports no dataset module)
_DVS128OBJECTS_OPTIONS = {"window_us": 300_000, "train_stride_us": 50_000, "denoise_us": 0, "normalize": "none",
                          "target_spread": 16.0, "classes": "all"}

#: Training defaults: ``synthetic`` is the README main job (``eventsnn train --out runs/demo``):
#: 1,500 simulated training recordings, 34x34 down-sampled to 17x17 by STC, T = 4, 4 epochs -
#: simulating the data and training take about 1-2 minutes on 2 CPU cores.
DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("nmnist", (34, 34, 2), 10, ("train", "test"), True,
                    "N-MNIST recordings (Tonic layout NMNIST/Train|Test/<digit>/*.bin)", _nmnist,
                    TrainingDefaults("nmnist", 4, 15, 16)),
        DatasetSpec("dvsgesture", (128, 128, 2), 11, ("train", "test"), True,
                    "DVS128 Gesture (Tonic layout DVSGesture/ibmGestureTrain|Test/user*/<label>.npy)", _dvsgesture,
                    TrainingDefaults("dvsgesture", 4, 30, 16)),
        DatasetSpec("cifar10dvs", (128, 128, 2), 10, ("train", "test", "all"), True,
                    "CIFAR10-DVS (CIFAR10DVS/<class>/*.aedat4 (Tonic) or *.aedat (original)), seeded 9:1 split", _cifar10dvs,
                    TrainingDefaults("cifar10dvs", 4, 30, 16)),
        DatasetSpec("synthetic", (34, 34, 2), 10, ("train", "test"), False,
                    "embedded default: simulated recordings of 10 glyph classes (no files needed)", _synthetic,
                    TrainingDefaults("synthetic", 4, 4, 32, spatial_factor=2),
                    simulated=True, limit_keyword="n_samples", sizes={"train": 1500, "test": 500}),
        DatasetSpec("nmnist-sim", (34, 34, 2), 10, ("train", "test"), True,
                    "N-MNIST-like recordings simulated from the MNIST test images (MNIST/raw)", _nmnist_sim,
                    TrainingDefaults("nmnist", 4, 15, 16), simulated=True, limit_keyword="limit",
                    source_patterns=("MNIST/raw/t10k-*-ubyte*", "raw/t10k-*-ubyte*", "t10k-*-ubyte*")),
        DatasetSpec("cifar10dvs-sim", (128, 128, 2), 10, ("train", "test"), True,
                    "CIFAR10-DVS-like recordings simulated from CIFAR-10 images (CIFAR10/train|test)", _cifar10dvs_sim,
                    TrainingDefaults("cifar10dvs", 4, 30, 16), simulated=True, limit_keyword="limit_per_class",
                    limit_per_class=True, source_patterns=("CIFAR10/train/*/*", "CIFAR10/test/*/*",
                                                           "train/*/*", "test/*/*")),
        DatasetSpec("dvs128objects", (128, 128, 2), 7, ("all",), True,
                    "DVS128Objects: long DVS128 recordings of 7 hand-held objects in sessions "
                    "(DVS128Objects/<session>/<class>/*.aedat), cut into windows (300 ms)", _dvs128objects,
                    TrainingDefaults("dvs128objects", 4, 10, 32, spatial_factor=4,
                                     preset_model={"plif": {"channels": [64, 64]}}),
                    options=_DVS128OBJECTS_OPTIONS, training_kwargs={"windows": "train"}),
    )
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; raises InvalidParameterError naming the choices."""
    spec = DATASETS.get(name)
    if spec is None:
        raise InvalidParameterError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    return spec


def get_dataset(
    name: str,
    root: str | Path | None = None,
    split: str = "train",
    transform: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> EventDataset:
    """Open dataset ``name`` (see :data:`DATASETS`) at ``root`` (default: shared data folder)."""
    spec = dataset_spec(name)
    if split not in spec.splits:
        raise InvalidParameterError(f"{name}: split must be one of {spec.splits}, got {split!r}")
    return spec.factory(root, split, transform, **kwargs)
