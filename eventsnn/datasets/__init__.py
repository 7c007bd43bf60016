"""Where recordings come from and which are used: real datasets through Tonic, the simulator,
compressed HDF5 files (reading and writing), the choice of splits and hold-outs, frames in memory.

- :mod:`~eventsnn.datasets.registry`: every per-dataset fact (:class:`DatasetSpec`);
- :mod:`~eventsnn.datasets.selection`: "split S of dataset D" as ``(dataset, indices)``, the
  validation hold-out of a training run and its rebuild from a checkpoint;
- :mod:`~eventsnn.datasets.frames`: chosen recordings -> STC frames in memory (:class:`FrameSet`);
- :mod:`~eventsnn.datasets.compressed`: the HDF5 format (:class:`CompressedDataset`,
  :func:`compress_dataset`);
- :func:`offline_tonic_dataset`: a Tonic dataset class on files already on disk, never downloading.
"""

from eventsnn.datasets._tonic import offline_tonic_dataset
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.cifar10dvs import CIFAR10DVS
from eventsnn.datasets.compressed import CompressedDataset, compress_dataset, compress_datasets
from eventsnn.datasets.dvsgesture import DVSGesture
from eventsnn.datasets.frames import FrameSet, compress_recordings, load_frames, selection_frames
from eventsnn.datasets.nmnist import NMNIST
from eventsnn.datasets.registry import (
    DATASETS,
    DatasetSpec,
    TrainingDefaults,
    dataset_names,
    dataset_spec,
    get_dataset,
)
from eventsnn.datasets.selection import (
    TrainingSplits,
    checkpoint_split,
    clear_cache,
    file_training_splits,
    hold_out,
    open_file_split,
    open_split,
    recorded_holdout,
    training_splits,
)
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
    "FrameSet",
    "NMNIST",
    "SaccadeSimulator",
    "SimulatedImages",
    "SyntheticShapes",
    "TrainingDefaults",
    "TrainingSplits",
    "checkpoint_split",
    "clear_cache",
    "compress_dataset",
    "compress_datasets",
    "compress_recordings",
    "dataset_names",
    "dataset_spec",
    "file_training_splits",
    "get_dataset",
    "hold_out",
    "offline_tonic_dataset",
    "load_frames",
    "open_file_split",
    "open_split",
    "recorded_holdout",
    "selection_frames",
    "simulated_cifar10dvs",
    "simulated_nmnist",
    "spread_indices",
    "stratified_split",
    "training_splits",
]
