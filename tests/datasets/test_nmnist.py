"""N-MNIST through Tonic: the real training split, any number of files, missing and corrupt files
named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eventsnn.datasets import (
    NMNIST,
)
from eventsnn.errors import (
    CorruptRecordingError,
    DatasetNotFoundError,
)
from eventsnn.events import EVENT_DTYPE


def test_nmnist_real_train_split(data_dir):
    ds = NMNIST(data_dir, "train")
    assert len(ds) == 1000
    assert np.bincount(ds.targets).tolist() == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
    ev, label = ds[0]
    assert ev.dtype == EVENT_DTYPE and label == 0
    assert ds.describe(0).endswith("Train/0/00002.bin")
    assert len(ev) == Path(ds.describe(0)).stat().st_size // 5


def test_nmnist_root_may_be_the_dataset_folder(data_dir):
    assert len(NMNIST(data_dir / "NMNIST", "train")) == 1000


def test_nmnist_missing_split_names_folder_and_layout(data_dir):
    with pytest.raises(DatasetNotFoundError, match=r"NMNIST/Test/<digit 0-9>/<id>\.bin"):
        NMNIST(data_dir, "test")


def test_nmnist_any_number_of_files_and_corrupt_sample(tmp_path, nmnist_files):
    for i, src in enumerate(nmnist_files[:3]):
        dst = tmp_path / "NMNIST" / "Train" / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        dst.write_bytes(data if i < 2 else data[:-1])
    ds = NMNIST(tmp_path, "train")
    assert len(ds) == 3
    ds[0]
    with pytest.raises(CorruptRecordingError, match=ds.describe(2)):
        ds[2]
