"""Shared fixtures: the real data in ../shared/data (or $EVENTSNN_DATA), and what several test
folders build from it (recordings, frames, a tiny trained checkpoint, a tiny ANN folder)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from eventsnn.bench.methods import frame_bundle
from eventsnn.datasets import NMNIST, load_frames, open_split
from eventsnn.io import read_bin_events
from eventsnn.nn import build_model
from eventsnn.paths import shared_data_dir
from eventsnn.train import DataBundle, TrainConfig, train
from eventsnn.transforms import STC

warnings.filterwarnings("ignore", message=".*Triton.*")
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory) -> Path:
    """Every test (and every process it starts) caches under a temporary folder, never in the
    user's cache folder."""
    folder = tmp_path_factory.mktemp("eventsnn-cache")
    os.environ["EVENTSNN_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if not (d / "NMNIST" / "Train").is_dir():
        pytest.fail(f"shared data not found at {d} (set EVENTSNN_DATA)")
    return d


@pytest.fixture(scope="session")
def nmnist_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "NMNIST" / "Train").glob("*/*.bin"))


@pytest.fixture(scope="session")
def dvs_clips(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "DVSGesture_slayer_bs2_unlabeled").glob("*.bs2"))


@pytest.fixture(scope="module")
def ann_dir(tmp_path_factory):
    """A tiny image folder and an untrained VGG-5 ANN for it (``_conversion_files.write_tiny_ann``)."""
    from _conversion_files import write_tiny_ann

    d = tmp_path_factory.mktemp("conv")
    write_tiny_ann(d, per_class=4)
    return d


@pytest.fixture(scope="module")
def nmnist_recordings(data_dir: Path) -> list[np.ndarray]:
    ds = NMNIST(data_dir, "train")
    return [ds.read(i) for i in range(5, 1000, 200)]  # 5 recordings, 5 digits


@pytest.fixture(scope="module")
def tiny_nmnist_checkpoint(tmp_path_factory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("bench") / "run"
    cfg = TrainConfig(dataset="nmnist", recipe="none", root=str(data_dir), limit=60, val_fraction=0.25, T=2, epochs=1,
                      batch_size=16, lr=5e-3, model={"channels": [4, 8], "n_thresholds": 2},
                      out=str(out), progress=False, seed=0)
    return train(cfg).best_checkpoint


@pytest.fixture(scope="module")
def nmnist_frames(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """STC frames ``[8, 3, 2, 34, 34]`` (event counts) of 8 real N-MNIST recordings, labels."""
    ds = NMNIST(data_dir, "train")
    idx = [int(i) for i in np.linspace(0, len(ds) - 1, 8)]
    x = torch.from_numpy(STC((34, 34, 2), 3).frames([ds.read(i) for i in idx]))
    return x, torch.as_tensor(np.asarray(ds.targets)[idx], dtype=torch.long)


@pytest.fixture(scope="module")
def nmnist_events(nmnist_files):
    """The first real N-MNIST recording (34x34x2)."""
    return read_bin_events(nmnist_files[0], (34, 34, 2))


@pytest.fixture(scope="module")
def tiny_synthetic_model():
    """A 4/8-channel ``synthetic`` model, K = 2, per-channel tau with spread first-layer time constants."""
    torch.manual_seed(0)
    m = build_model("synthetic", channels=[4, 8], n_thresholds=2, per_channel_tau=True, scb="first",
                    spatial_factor=2)
    with torch.no_grad():
        m.features[0].neuron.w.uniform_(-1.0, 1.0)
    return m.eval()


@pytest.fixture(scope="session")
def synthetic_bundle() -> DataBundle:
    """160 train / 80 test recordings of the embedded synthetic set as 17x17 frames at T = 2."""
    tr = load_frames("synthetic", None, "train", STC((34, 34, 2), 2, spatial_factor=2), limit=160)
    te = load_frames("synthetic", None, "test", STC((34, 34, 2), 2, spatial_factor=2), limit=80)
    classes = open_split("synthetic", None, "train", 160)[0].classes
    return frame_bundle((tr.x, tr.y), (te.x, te.y), classes, (34, 34, 2), STC((34, 34, 2), 2, spatial_factor=2), {"dataset": "synthetic", "note": "x"})
