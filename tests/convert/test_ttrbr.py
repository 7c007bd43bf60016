"""Threshold tuning and residual-block restructuring (TTRBR), down to ResNet-110."""

from __future__ import annotations

import pytest
import torch
from _conversion_files import small_ann

from eventsnn.convert import (
    conversion_error,
    convert,
)
from eventsnn.convert.models import count_layers
from eventsnn.errors import InvalidParameterError

torch.set_num_threads(2)


def test_threshold_tuning_reduces_conversion_error() -> None:
    ann = small_ann("resnet20")
    x = torch.randn(16, 3, 16, 16)
    T = 4
    untuned = convert(ann, x, T, threshold="max", tune=False)
    tuned = convert(ann, x, T, threshold="max", tune=True)
    e0, e1 = conversion_error(untuned, ann, x, T), conversion_error(tuned, ann, x, T)
    # measured: tuning removes about 20% of the per-layer error of this random ResNet-20 at T=4
    assert e1["layer_mean"] < 0.9 * e0["layer_mean"]
    assert e1["logits"] < e0["logits"]
    report = tuned.options["tuning"]
    assert set(report) == set(tuned.thresholds())
    for r in report.values():  # tuning never worsens the objective it minimises (layer MSE, output KL)
        pairs = [k for k in ("mse", "output_kl") if f"{k}_before" in r]
        assert pairs, r
        assert all(r[f"{k}_after"] <= r[f"{k}_before"] + 1e-9 for k in pairs)


@pytest.mark.parametrize("residual", ["shortcut_if", "shared_threshold"])
def test_residual_restructuring_options(residual: str) -> None:
    ann = small_ann("resnet20", act="qcfs")
    x = torch.randn(4, 3, 16, 16)
    snn = convert(ann, x, 4, residual=residual)
    names = [n for n, _ in snn.spiking_layers()]
    if residual == "shortcut_if":
        # 7 identity-shortcut blocks in ResNet-20 get an extra IF neuron
        assert sum(n.endswith("shortcut_act") for n in names) == 7
        assert len(names) == 19 + 7
    else:
        th = snn.thresholds()
        assert th["stem_act"] == th["layer1.0.act2"] == th["layer1.2.act2"]
        assert th["layer2.0.act2"] == th["layer2.2.act2"]
    with pytest.raises(InvalidParameterError):
        convert(small_ann("vgg5"), x, 4, residual=residual)


def test_resnet110_converts_and_approaches_ann() -> None:
    ann = small_ann("resnet110", act="qcfs", width=0.25)
    assert count_layers(ann) >= 110
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = ann(x)
    errs = {}
    for T in (4, 32):
        snn = convert(ann, x, T, tune=False)
        assert len(snn.spiking_layers()) == 109
        out = snn.forward_static(x, T).mean(0)
        assert out.shape == ref.shape and torch.isfinite(out).all()
        errs[T] = float(((out - ref) ** 2).mean() / (ref ** 2).mean())
    assert errs[32] < errs[4]
    assert errs[32] < 0.1
