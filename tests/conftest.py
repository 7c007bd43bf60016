"""Shared fixtures: the real data in ../shared/data (or $EVENTSNN_DATA)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from eventsnn.paths import shared_data_dir

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
