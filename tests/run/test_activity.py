"""record_activity: the recorded spikes and membrane are those of the multi-step forward."""

from __future__ import annotations

import numpy as np
import torch
from spikingjelly.activation_based import functional as sj_functional

from eventsnn import viz
from eventsnn.functional.stc import stc_numpy

SENSOR = (34, 34, 2)


def test_record_activity_matches_multistep_forward(tiny_synthetic_model, nmnist_events):
    frames = stc_numpy(nmnist_events, SENSOR, 4, spatial_factor=2)
    rec = viz.record_activity(tiny_synthetic_model, frames)
    sj_functional.reset_net(tiny_synthetic_model)
    with torch.no_grad():
        ref = tiny_synthetic_model(torch.from_numpy(frames).unsqueeze(1))[:, 0].numpy()
    sj_functional.reset_net(tiny_synthetic_model)
    np.testing.assert_allclose(rec.output, ref, rtol=1e-5, atol=1e-6)
    assert rec.layers == ["features.0.neuron", "features.1.neuron"]
    assert rec.spikes["features.0.neuron"].shape == (4, 4 * 17 * 17)
    assert rec.membrane["features.1.neuron"].shape == (4, 8 * 8 * 8)
    assert rec.shapes["features.0.neuron"] == (4, 17, 17)
    assert rec.thresholds["features.0.neuron"] == (1.0, 2)
    s = rec.spikes["features.0.neuron"]
    assert s.max() > 0 and set(np.unique(s)) <= {0.0, 1.0, 2.0}
    assert rec.prediction == int(ref.mean(0).argmax())
