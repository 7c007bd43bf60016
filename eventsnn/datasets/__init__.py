"""Where recordings come from: real datasets through Tonic, the simulator, compressed HDF5 files."""

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.cifar10dvs import CIFAR10DVS
from eventsnn.datasets.compressed import CompressedDataset
from eventsnn.datasets.dvsgesture import DVSGesture
from eventsnn.datasets.nmnist import NMNIST
from eventsnn.datasets.registry import DATASETS, DatasetSpec, dataset_names, get_dataset
from eventsnn.datasets.simulator import SaccadeSimulator
from eventsnn.datasets.splits import spread_indices, stratified_split
from eventsnn.datasets.synthetic import (
    SimulatedImages,
    SyntheticShapes,
    simulated_cifar10dvs,
    simulated_nmnist,
)

__all__ = [
    "CIFAR10DVS",
    "DATASETS",
    "CompressedDataset",
    "DVSGesture",
    "DatasetSpec",
    "EventDataset",
    "NMNIST",
    "SaccadeSimulator",
    "SimulatedImages",
    "SyntheticShapes",
    "dataset_names",
    "get_dataset",
    "simulated_cifar10dvs",
    "simulated_nmnist",
    "spread_indices",
    "stratified_split",
]
