"""Event-level augmentation of windows: the spec, seeded per epoch and window, noise added before
the filter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventsnn.datasets.dvs128objects import object_windows
from eventsnn.errors import InvalidParameterError
from eventsnn.train.event_augment import AugmentedWindows, EventAugment
from eventsnn.transforms import STC

SENSOR = (128, 128, 2)


def test_event_augment_spec():
    a = EventAugment.from_spec("jitter,time=2,drop=0.5,noise=10000,polarity,mirror,rotation=15,scale=0.1,shift=4")
    assert a == EventAugment(True, 2.0, 0.5, 10_000.0, True, True, 15.0, 0.1, 4.0) and a.active and a.geometric
    assert not EventAugment.from_spec("none").active and not EventAugment.from_spec(None).active
    assert EventAugment.from_spec("mirror=0") == EventAugment()
    for bad in ("time", "drop=x", "wobble=2", "drop=1.5", "time=0.5"):
        with pytest.raises(InvalidParameterError, match="event augmentation"):
            EventAugment.from_spec(bad)


@pytest.fixture(scope="module")
def train_windows(data_dir):
    return object_windows(data_dir, windows="train", denoise_us=30_000, normalize="scale",
                          sessions=["DataSet2"])


def test_augmented_windows_are_seeded_per_epoch_and_window(train_windows):
    stc = STC(SENSOR, 2, spatial_factor=4)
    idx = np.arange(0, len(train_windows), 97)
    aug = EventAugment.from_spec("jitter,time=2,drop=0.5,noise=10000,polarity,mirror")
    a = AugmentedWindows(train_windows, idx, stc, aug, seed=3)
    x, y = a[[0, 5, 6]]
    assert x.shape == (3, 2, 2, 32, 32) and y.tolist() == [train_windows.targets[i] for i in idx[[0, 5, 6]]]
    assert torch.equal(a[[5]][0][0], x[1])  # the same window whatever the batch
    assert torch.equal(AugmentedWindows(train_windows, idx, stc, aug, seed=3)[[0, 5, 6]][0], x)
    a.set_epoch(1)
    assert not torch.equal(a[[0, 5, 6]][0], x)  # another epoch, other windows
    plain = AugmentedWindows(train_windows, idx, stc, EventAugment(), seed=3)
    assert torch.equal(plain[[4]][0][0], torch.from_numpy(stc(train_windows.read(int(idx[4])))))
    frame, label = a[2]
    assert frame.shape == (2, 2, 32, 32) and label == train_windows.targets[int(idx[2])]


def test_noise_goes_through_the_filter(data_dir):
    """Noise is added before the filter: most of it is removed, as background activity is at test time."""
    stc = STC(SENSOR, 1, spatial_factor=4)
    unfiltered = object_windows(data_dir, windows="train", sessions=["DataSet2"])
    filtered = object_windows(data_dir, windows="train", denoise_us=30_000, sessions=["DataSet2"])

    def added(windows) -> float:
        idx = np.arange(0, len(windows), 50)
        loud = AugmentedWindows(windows, idx, stc, EventAugment(noise=10_000), seed=0)
        quiet = AugmentedWindows(windows, idx, stc, EventAugment(), seed=0)
        return float(np.mean([len(loud.window_events(p)) - len(quiet.window_events(p)) for p in range(len(idx))]))

    # a rate drawn uniform in [0, 10 kHz] for 300 ms: 1,500 noise events per window on average
    assert 1_200 < added(unfiltered) < 1_800
    assert 0 < added(filtered) < 400  # 0.6 Hz per pixel: few have a neighbour within 30 ms
