"""Result pictures (curves, confusion, conversion, method accuracy): sizes, and files written
atomically."""

from __future__ import annotations

import numpy as np
import pytest
from _pictures import png_size

from eventsnn import viz
from eventsnn.errors import OutputPathError


def test_results_pictures_sizes_and_atomic_writes(tmp_path):
    hist = [{"epoch": i + 1, "train_loss": 2.0 - 0.2 * i, "val_loss": 2.1 - 0.1 * i, "train_acc": 0.2 * i,
             "val_acc": 0.15 * i} for i in range(4)]
    assert png_size(viz.plot_curves(hist, tmp_path / "curves.png", "run a: nmnist, T=2 (nmnist model)")) == (990, 396)
    conf = np.array([[5, 1], [0, 4]])
    assert png_size(viz.plot_confusion(conf, ["left", "right"], tmp_path / "confusion.png")) == (550, 440)
    rows = [{"method": m, "T": t, "acc": a, "ann": "r20", "ann_acc": 90.0, "n_test": 100}
            for m, t, a in (("eventsnn", 1, 60.0), ("eventsnn", 4, 85.0), ("spikingjelly-max", 4, 40.0))]
    assert png_size(viz.plot_accuracy_vs_T(rows, 90.0, tmp_path / "conv.png", "conversion")) == (900, 576)
    assert png_size(viz.plot_conversion_panels(rows, tmp_path / "panels.png")) == (624, 528)
    assert viz.plot_conversion_panels([], tmp_path / "none.png") is None
    acc_rows = [{"method": "eventsnn", "T": t, "accuracy": a, "n_test": 50} for t, a in ((1, 0.9), (2, 0.95))]
    assert png_size(viz.plot_method_accuracy(acc_rows, tmp_path / "acc.png", "accuracy")) == (660, 480)
    assert not list(tmp_path.glob("*.tmp-*"))
    with pytest.raises(OutputPathError, match="is a file"):  # a file where the folder should be
        viz.plot_curves(hist, tmp_path / "curves.png" / "x.png")
