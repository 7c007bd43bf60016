"""Pictures of recordings: colours, animations, frames and event rate (sizes and errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _pictures import png_size
from matplotlib import animation
from PIL import Image

from eventsnn import viz
from eventsnn.errors import EmptyRecordingError, InvalidParameterError
from eventsnn.events import empty_events
from eventsnn.functional.stc import stc_numpy

SENSOR = (34, 34, 2)


def test_frames_to_rgb_colours():
    f = np.zeros((2, 2, 2), np.float32)  # [P, H, W]: P=0 OFF, P=1 ON
    f[1, 0, 0] = 4  # ON only
    f[0, 1, 1] = 4  # OFF only
    rgb = viz.frames_to_rgb(f, vmax=4)
    np.testing.assert_allclose(rgb[0, 1], [1, 1, 1])  # no event: white
    np.testing.assert_allclose(rgb[0, 0], viz.matplotlib.colors.to_rgb(viz.ON_COLOR), atol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], viz.matplotlib.colors.to_rgb(viz.OFF_COLOR), atol=1e-6)
    grey = viz.frames_to_rgb(np.array([[[0.0, 2.0]]]), vmax=4)  # merged polarity
    np.testing.assert_allclose(grey[0, 1], [0.5, 0.5, 0.5])
    with pytest.raises(InvalidParameterError):
        viz.frames_to_rgb(np.zeros((3, 4, 4)))


def test_animation_gif_size_and_frames(tmp_path, nmnist_events):
    path = viz.animate_recording(nmnist_events, SENSOR, tmp_path / "rec.gif", frame_ms=20, figsize=(3.2, 3.6), dpi=80)
    dur_ms = (nmnist_events["t"][-1] - nmnist_events["t"][0] + 1) / 1000
    with Image.open(path) as im:
        assert im.size == (256, 288)
        assert im.n_frames == int(np.ceil(dur_ms / 20))
    capped = viz.animate_recording(nmnist_events, SENSOR, tmp_path / "cap.gif", frame_ms=1, max_frames=5, dpi=40)
    with Image.open(capped) as im:
        assert im.n_frames == 5 and im.size == (128, 144)


def test_animation_errors(tmp_path, nmnist_events):
    with pytest.raises(InvalidParameterError, match="must be .gif or .mp4"):
        viz.animate_recording(nmnist_events, SENSOR, tmp_path / "rec.avi")
    with pytest.raises(EmptyRecordingError):
        viz.animate_recording(empty_events(), SENSOR, tmp_path / "e.gif")
    if not animation.writers.is_available("ffmpeg"):
        with pytest.raises(InvalidParameterError, match="needs ffmpeg"):
            viz.animate_recording(nmnist_events, SENSOR, tmp_path / "rec.mp4")


def test_plot_frames_and_event_rate_sizes(tmp_path, nmnist_events):
    frames = stc_numpy(nmnist_events, SENSOR, 4)
    assert png_size(viz.plot_frames(frames, tmp_path / "f.png", step_ms=75, dpi=50)) == (360, 125)
    assert png_size(viz.plot_frames(frames, tmp_path / "g.png", figsize=(8, 3), dpi=60)) == (480, 180)
    merged = stc_numpy(nmnist_events, SENSOR, 10, merge_polarity=True)
    assert png_size(viz.plot_frames(torch.from_numpy(merged), tmp_path / "m.png", max_cols=5, dpi=40)) == (360, 172)
    assert png_size(viz.plot_event_rate(nmnist_events, tmp_path / "r.png", T=4, figsize=(5, 2.5), dpi=80)) == (400, 200)
    with pytest.warns(DeprecationWarning, match="n_time_steps"):  # the keyword's old name
        assert png_size(viz.plot_event_rate(nmnist_events, tmp_path / "r2.png", n_time_steps=4, figsize=(5, 2.5),
                                         dpi=80)) == (400, 200)
    with pytest.raises(InvalidParameterError):
        viz.plot_frames(frames[0], tmp_path / "bad.png")
