"""DVS128 Gesture: a fake tree in Tonic's layout, a corrupt .npy named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eventsnn.datasets import (
    DVSGesture,
)
from eventsnn.errors import (
    CorruptRecordingError,
    DatasetNotFoundError,
)
from eventsnn.events import EVENT_DTYPE


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
