"""The dataset registry: unknown names and splits, a missing root, per-dataset facts as data on the
spec."""

from __future__ import annotations

import pytest

from eventsnn.datasets import (
    DATASETS,
    clear_cache,
    get_dataset,
    open_split,
)
from eventsnn.errors import (
    DatasetNotFoundError,
    InvalidParameterError,
)


def test_missing_root(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        get_dataset("nmnist", tmp_path / "absent")


def test_unknown_dataset_and_split():
    with pytest.raises(InvalidParameterError, match="unknown dataset"):
        get_dataset("mnist-dvs")
    with pytest.raises(InvalidParameterError, match="split"):
        get_dataset("nmnist", split="validation")


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
