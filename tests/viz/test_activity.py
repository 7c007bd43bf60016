"""Pictures of a network at work and of what it learned (sizes, tau per layer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _pictures import png_size

from eventsnn import viz
from eventsnn.errors import InvalidParameterError
from eventsnn.functional.stc import stc_numpy
from eventsnn.nn import build_model

SENSOR = (34, 34, 2)


def test_model_pictures_sizes(tmp_path, tiny_synthetic_model, nmnist_events):
    rec = viz.record_activity(tiny_synthetic_model, stc_numpy(nmnist_events, SENSOR, 3, spatial_factor=2))
    assert png_size(viz.plot_spike_rates(rec, tmp_path / "a.png", step_ms=100, dpi=50)) == (300, 175)
    assert png_size(viz.plot_spike_raster(rec, tmp_path / "b.png", n_neurons=16, figsize=(6, 4), dpi=50)) == (300, 200)
    assert png_size(viz.plot_membrane(rec, tmp_path / "c.png", layer="features.1.neuron", dpi=50)) == (300, 175)
    assert png_size(viz.plot_tau(tiny_synthetic_model, tmp_path / "d.png", step_ms=100, figsize=(4, 3), dpi=50)) == (200, 150)
    with pytest.raises(InvalidParameterError, match="no spiking layer"):
        viz.plot_membrane(rec, tmp_path / "x.png", layer="nope")


def test_tau_per_layer(tiny_synthetic_model):
    taus = viz.tau_per_layer(tiny_synthetic_model)
    assert list(taus) == ["features.0.neuron", "features.1.neuron"]
    assert taus["features.0.neuron"].shape == (4,)
    np.testing.assert_allclose(taus["features.0.neuron"], 1 / torch.sigmoid(tiny_synthetic_model.features[0].neuron.w).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(taus["features.1.neuron"], 2.0, rtol=1e-6)
    plif = viz.tau_per_layer(build_model("plif", channels=[2, 2], fc_hidden=8))
    assert len(plif) == 4 and all(t.shape == (1,) and t[0] == pytest.approx(2.0) for t in plif.values())
