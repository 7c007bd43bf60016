"""The event-camera simulator and the simulated datasets."""

from __future__ import annotations

import numpy as np
import pytest

from eventsnn.datasets import SaccadeSimulator, SyntheticShapes, get_dataset, simulated_nmnist
from eventsnn.datasets.images import load_mnist, read_idx
from eventsnn.errors import CorruptRecordingError, DatasetNotFoundError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, validate_events
from eventsnn.functional.stc import stc_numpy


def test_static_blank_image_gives_only_noise():
    sim = SaccadeSimulator(noise_rate_hz=0.0)
    assert len(sim.simulate(np.zeros((28, 28)))) == 0
    assert len(sim.simulate(np.full((28, 28), 0.5))) > 0  # edges of the grey square move


def test_bright_square_gives_on_and_off_events_on_its_edges():
    img = np.zeros((28, 28), np.float32)
    img[10:18, 10:18] = 1.0
    ev = SaccadeSimulator(noise_rate_hz=0.0).simulate(img, seed=1)
    validate_events(ev, (34, 34, 2))
    assert ev.dtype == EVENT_DTYPE
    assert 0.3 < ev["p"].mean() < 0.7
    # events only near the square (placed at offset 3 on the 34x34 sensor, moved by <= 2 px)
    assert ev["x"].min() >= 3 + 10 - 3 and ev["x"].max() <= 3 + 17 + 3
    assert ev["t"].max() <= 300_000


def test_simulation_is_deterministic_per_seed():
    img = np.random.default_rng(0).random((28, 28))
    a, b = SaccadeSimulator().simulate(img, seed=5), SaccadeSimulator().simulate(img, seed=5)
    np.testing.assert_array_equal(a, b)


def test_simulated_mnist_resembles_real_nmnist(data_dir, nmnist_files):
    sim = simulated_nmnist(data_dir, "train", limit=40)
    counts = [len(e) for e in sim.recordings]
    real = [f.stat().st_size // 5 for f in nmnist_files[:200]]
    assert 0.5 < np.median(counts) / np.median(real) < 2.0
    # the summed events look like the digit: correlate with the MNIST image
    images, labels = load_mnist(data_dir)
    frame = stc_numpy(sim.recordings[0], (34, 34, 2), 1)[0].sum(0)[3:31, 3:31]
    r = np.corrcoef(frame.ravel(), images[0].ravel())[0, 1]
    assert r > 0.3 and sim.targets[0] == labels[0] == 7


def test_synthetic_default_dataset():
    ds = get_dataset("synthetic", split="test", n_samples=50)
    assert isinstance(ds, SyntheticShapes) and len(ds) == 50
    assert len(ds.classes) == 10 and np.bincount(ds.targets).tolist() == [5] * 10
    ev, label = ds[7]
    validate_events(ev, (34, 34, 2))
    assert len(ev) > 500
    again = SyntheticShapes("test", n_samples=50)
    np.testing.assert_array_equal(again[7][0], ev)
    assert again.targets == ds.targets


def test_bad_simulator_arguments(tmp_path):
    with pytest.raises(InvalidParameterError):
        SaccadeSimulator(dt_us=0)
    with pytest.raises(InvalidParameterError, match="do not fit"):
        SaccadeSimulator().simulate(np.zeros((40, 40)))
    with pytest.raises(DatasetNotFoundError, match="t10k-images"):
        load_mnist(tmp_path)
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(CorruptRecordingError):
        read_idx(tmp_path / "bad.gz")
