"""Dataset loaders: real N-MNIST files, fake DVSGesture / CIFAR10-DVS trees (torchvision-style harness)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eventsnn.datasets import (
    CIFAR10DVS,
    DATASETS,
    NMNIST,
    DVSGesture,
    clear_cache,
    get_dataset,
    open_split,
    stratified_split,
)
from eventsnn.errors import (
    CorruptRecordingError,
    DatasetNotFoundError,
    EventCoordinateError,
    InvalidParameterError,
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


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        get_dataset("nmnist", tmp_path / "absent")


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


def test_unknown_dataset_and_split():
    with pytest.raises(InvalidParameterError, match="unknown dataset"):
        get_dataset("mnist-dvs")
    with pytest.raises(InvalidParameterError, match="split"):
        get_dataset("nmnist", split="validation")


def _fake_gesture(root: Path, split_folder: str, n_users: int = 2) -> int:
    rng = np.random.default_rng(0)
    n = 0
    for u in range(n_users):
        d = root / "DVSGesture" / split_folder / f"user{u + 1:02d}_fluorescent"
        d.mkdir(parents=True)
        for label in range(11):
            k = 50 + label
            arr = np.stack(
                [rng.integers(0, 128, k), rng.integers(0, 128, k), rng.integers(0, 2, k), np.sort(rng.uniform(0, 1450, k))],
                axis=1,
            )
            np.save(d / f"{label}.npy", arr)
            n += 1
    return n


def test_subpackages_are_reachable_from_import_eventsnn():
    code = (
        "import sys, eventsnn\n"
        "assert 'eventsnn.datasets' not in sys.modules  # imported on first use\n"
        "print(eventsnn.datasets.NMNIST.__name__, eventsnn.functional.stc.__name__, eventsnn.transforms.STC.__name__,"
        " eventsnn.nn.MTLIF.__name__, eventsnn.bench.bench_checkpoint.__name__, eventsnn.convert.__name__,"
        " eventsnn.cli.main.__name__, eventsnn.train.TrainConfig.__name__, callable(eventsnn.train),"
        " eventsnn.export.export_nir.__name__)\n"
        "from eventsnn import train, STC, compress_dataset, CompressedDataset\n"
        "print(train is eventsnn.train, compress_dataset.__module__)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["NMNIST", "eventsnn.functional.stc", "STC", "MTLIF", "bench_checkpoint",
                                "eventsnn.convert", "main", "TrainConfig", "True", "export_nir", "True",
                                "eventsnn.datasets.compressed"]
    import eventsnn

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        eventsnn.nothing  # noqa: B018


def test_per_dataset_facts_are_data_on_the_spec():
    sim, nsim, csim = DATASETS["synthetic"], DATASETS["nmnist-sim"], DATASETS["cifar10dvs-sim"]
    # the constructor keywords that open a split for `limit` samples (simulated sets generate only those)
    assert sim.factory_kwargs("train", None) == {"n_samples": 1500, "progress": False}
    assert sim.factory_kwargs("test", 30, progress=True) == {"n_samples": 30, "progress": True}
    assert nsim.factory_kwargs("test", None) == {"limit": None, "progress": False}
    assert csim.factory_kwargs("train", 25) == {"limit_per_class": 3, "progress": False}
    assert DATASETS["nmnist"].factory_kwargs("train", 30) == {}
    assert sim.simulated and not DATASETS["nmnist"].simulated
    assert (sim.training.preset, sim.training.T, sim.training.epochs, sim.training.spatial_factor) == (
        "synthetic", 4, 4, 2)
    # simulated splits are cached: opened twice, simulated once
    clear_cache()
    a, idx = open_split("synthetic", None, "test", 20)
    assert len(a) == 20 and idx.tolist() == list(range(20))
    assert open_split("synthetic", None, "test", 20)[0] is a
    clear_cache()
    assert open_split("synthetic", None, "test", 20)[0] is not a


def test_dvsgesture_fake_tree(tmp_path):
    n = _fake_gesture(tmp_path, "ibmGestureTrain")
    ds = DVSGesture(tmp_path, "train")
    assert len(ds) == n == 22
    ev, label = ds[3]
    assert ev.dtype == EVENT_DTYPE and 0 <= label < 11
    assert len(ev) == 50 + label
    assert ev["t"].max() <= 1_450_000 and ev["t"].max() > 1000  # ms -> µs
    assert sorted(set(ds.users)) == [1, 2]
    with pytest.raises(DatasetNotFoundError, match="ibmGestureTest"):
        DVSGesture(tmp_path, "test")


def test_dvsgesture_corrupt_npy(tmp_path):
    _fake_gesture(tmp_path, "ibmGestureTrain", n_users=1)
    bad = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user01_fluorescent" / "0.npy"
    bad.write_bytes(bad.read_bytes()[:60])
    ds = DVSGesture(tmp_path, "train")
    with pytest.raises(CorruptRecordingError, match="0.npy"):
        ds[ds.files.index(str(bad))]


def test_cifar10dvs_fake_tree_with_real_aedat4(tmp_path, data_dir):
    sample = data_dir / "tonic_test_samples" / "sample.aedat4"
    for cls in ("airplane", "cat"):
        for i in range(10):
            d = tmp_path / "CIFAR10DVS" / cls
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(sample, d / f"{cls}_{i}.aedat4")
    train, test = CIFAR10DVS(tmp_path, "train"), CIFAR10DVS(tmp_path, "test")
    assert len(train) == 18 and len(test) == 2
    assert sorted(test.targets) == [0, 3]  # stratified: one per class
    assert set(train.files).isdisjoint(test.files)
    assert CIFAR10DVS(tmp_path, "test").files == test.files  # seeded
    # the sample is a 320x240 DVXplorer recording: it does not fit CIFAR10-DVS's 128x128 sensor
    with pytest.raises(EventCoordinateError, match="sample|airplane|cat"):
        train[0]


def test_cifar10dvs_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"CIFAR10DVS/<class>/\*\.aedat4"):
        CIFAR10DVS(tmp_path, "train")


def test_stratified_split_is_seeded_and_balanced():
    labels = np.repeat(np.arange(10), 100)
    keep, hold = stratified_split(labels, 0.1, seed=3)
    assert len(hold) == 100 and np.bincount(labels[hold]).tolist() == [10] * 10
    assert np.intersect1d(keep, hold).size == 0 and len(keep) + len(hold) == 1000
    keep2, hold2 = stratified_split(labels, 0.1, seed=3)
    np.testing.assert_array_equal(hold, hold2)
    assert not np.array_equal(hold, stratified_split(labels, 0.1, seed=4)[1])
