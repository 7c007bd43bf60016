"""CIFAR10-DVS from either release: the original AEDAT 2.0 ``.aedat`` files (synthetic ones here,
in the release's layout: no sample of the dataset is available) and Tonic's ``.aedat4``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from eventsnn.cli import main
from eventsnn.datasets import (
    CIFAR10DVS,
    get_dataset,
)
from eventsnn.datasets.cifar10dvs import read_recording
from eventsnn.errors import (
    CorruptRecordingError,
    DatasetNotFoundError,
    EventCoordinateError,
)
from eventsnn.io import CIFAR10DVS_LAYOUT, read_aedat2_events
from eventsnn.train import find_recipe, load_checkpoint

RAW = np.dtype([("address", ">u4"), ("timeStamp", ">u4")])


# as MATLAB's saveaerdat.m writes it: no "#End Of ASCII Header" line
HEADER = b"#!AER-DAT2.0\r\n# This is a raw AE data file created by saveaerdat.m\r\n# Data format is int32 address, int32 timestamp (8 bytes total)\r\n"


def cifar_address(x: int, y: int, on: bool) -> int:
    """Raw address of pixel (x, y) under SpikingJelly's CIFAR10-DVS decoding:
    x = 127 - bits 8-14, y = 127 - bits 1-7, bit 0 = 0 is ON."""
    return ((127 - x) << 8) | ((127 - y) << 1) | (0 if on else 1)


def write_recording(path, xs, ys, ons, ts) -> None:
    raw = np.empty(len(xs), RAW)
    raw["address"] = [cifar_address(x, y, on) for x, y, on in zip(xs, ys, ons, strict=True)]
    raw["timeStamp"] = ts
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER + raw.tobytes())


def test_aedat_events_decode_with_the_cifar10dvs_layout(tmp_path):
    path = tmp_path / "cifar10_cat_0.aedat"
    xs, ys, ons = [0, 127, 5, 64], [0, 3, 127, 64], [True, False, True, False]
    write_recording(path, xs, ys, ons, [1_000_000, 1_000_010, 1_000_250, 1_003_000])
    ev = read_recording(path)
    assert ev["x"].tolist() == xs and ev["y"].tolist() == ys
    assert ev["p"].tolist() == [1, 0, 1, 0] and ev["t"].tolist() == [0, 10, 250, 3000]
    raw = np.frombuffer(path.read_bytes()[len(HEADER):], RAW)["address"].astype(np.int64)
    np.testing.assert_array_equal(ev["x"], 127 - ((raw >> 8) & 0x7F))  # SpikingJelly: x = 127 - y_raw
    np.testing.assert_array_equal(ev["y"], 127 - ((raw >> 1) & 0x7F))  # y = 127 - x_raw
    # the same file read as jAER shows a DVS128 (the general .aedat reader): other pixels
    jaer = read_aedat2_events(path)
    assert jaer["x"].tolist() != xs
    assert read_aedat2_events(path, layout=CIFAR10DVS_LAYOUT)["x"].tolist() == xs


def _tree(root, n_per_class=10, classes=("airplane", "cat")):
    for cls in classes:
        for i in range(n_per_class):
            x = np.arange(20) % 128
            write_recording(root / "CIFAR10DVS" / cls / f"cifar10_{cls}_{i}.aedat", x, (x * 3) % 128,
                            x % 2 == 0, 100 + np.arange(20) * 1000)


def test_original_release_tree(tmp_path):
    _tree(tmp_path)
    train, test = CIFAR10DVS(tmp_path, "train"), CIFAR10DVS(tmp_path, "test")
    assert len(train) == 18 and len(test) == 2 and sorted(test.targets) == [0, 3]
    assert set(train.files).isdisjoint(test.files) and all(f.endswith(".aedat") for f in train.files)
    ev, label = train[0]
    assert len(ev) == 20 and ev["t"][0] == 0 and ev["t"][-1] == 19_000 and label in (0, 3)
    assert ev["x"].tolist() == list(range(20)) and ev["y"].tolist() == [(3 * i) % 128 for i in range(20)]
    assert len(get_dataset("cifar10dvs", tmp_path, "all")) == 20


def test_both_releases_mixed_each_recording_once(tmp_path, data_dir):
    _tree(tmp_path, n_per_class=3)
    sample = data_dir / "tonic_test_samples" / "sample.aedat4"
    folder = tmp_path / "CIFAR10DVS" / "cat"
    shutil.copy(sample, folder / "cifar10_cat_1.aedat4")  # the same recording in Tonic's form
    shutil.copy(sample, folder / "cifar10_cat_9.aedat4")  # one only in Tonic's form
    ds = CIFAR10DVS(tmp_path, "all")
    names = sorted(f.rsplit("/", 1)[1] for f in ds.files if "/cat/" in f)
    assert names == ["cifar10_cat_0.aedat", "cifar10_cat_1.aedat4", "cifar10_cat_2.aedat", "cifar10_cat_9.aedat4"]
    assert len(ds) == 7
    # the .aedat4 sample is a 320x240 recording: off the 128x128 sensor, said naming the file
    with pytest.raises(EventCoordinateError, match=r"cifar10_cat_1\.aedat4"):
        ds[ds.files.index(str(folder / "cifar10_cat_1.aedat4"))]


def test_bad_aedat_files_are_named(tmp_path):
    _tree(tmp_path, n_per_class=1, classes=("dog",))
    path = tmp_path / "CIFAR10DVS" / "dog" / "cifar10_dog_0.aedat"
    path.write_bytes(path.read_bytes()[:-3])
    ds = CIFAR10DVS(tmp_path, "all")
    with pytest.raises(CorruptRecordingError, match=r"cifar10_dog_0\.aedat: 157 bytes of events .*truncated"):
        ds[0]
    raw = np.zeros(1, RAW)
    raw["address"] = 1 << 20  # a bit no CIFAR10-DVS pixel address uses
    path.write_bytes(HEADER + raw.tobytes())
    with pytest.raises(EventCoordinateError, match=r"cifar10_dog_0\.aedat: event 0 has address 0x00100000"):
        ds[0]


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


@pytest.mark.slow
def test_train_on_cifar10dvs_runs_its_recipe(tmp_path):
    """``eventsnn train --dataset cifar10dvs --root DIR`` starts with the recipe declared for it
    (settings measured on the simulated set) and trains on the recordings of the folder."""
    _tree(tmp_path / "data")
    out = tmp_path / "run"
    assert main(["train", "--dataset", "cifar10dvs", "--root", str(tmp_path / "data"), "--epochs", "1",
                 "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out / "last.pt")
    used = ckpt["config"]["train"]
    recipe = find_recipe("cifar10dvs", None)
    assert used["recipe"] == recipe.name == "cifar10dvs" and recipe.settings
    for key, value in recipe.config_values().items():
        if key != "epochs":  # given on the command line
            assert used[key] == value, key
    assert ckpt["config"]["data"]["n_train"] == 18 and ckpt["config"]["data"]["n_val"] == 2
