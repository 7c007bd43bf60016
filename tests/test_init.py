"""``import eventsnn``: the sub-packages are reachable from the top."""

from __future__ import annotations

import subprocess
import sys

import pytest


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
