"""The Tonic-style STC transform, ToTensor and the torch-side helpers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import tonic
import torch

from eventsnn.errors import EventCoordinateError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, empty_events, read_bin_events
from eventsnn.functional.stc import stc_numpy, stc_numpy_batch, stc_torch
from eventsnn.transforms import STC, ToTensor, batch_to_tensors, events_to_tensors

NMNIST = (34, 34, 2)


@pytest.fixture(scope="module")
def recording(nmnist_files) -> np.ndarray:
    return read_bin_events(nmnist_files[42], NMNIST)


def test_stc_transform_calls_the_pure_function(recording):
    tf = STC(NMNIST, T=4, ratio=2, mode="exp", decay=0.6, spatial_factor=2, carry=True)
    frames = tf(recording)
    assert frames.shape == tf.output_shape == (4, 2, 17, 17) and frames.dtype == np.float32
    np.testing.assert_array_equal(
        frames, stc_numpy(recording, NMNIST, 4, 2, "exp", 0.6, 2, merge_polarity=False, carry=True)
    )
    counts = STC(NMNIST, 3, merge_polarity=True)(recording)
    assert counts.shape == (3, 1, 34, 34) and counts.sum() == len(recording)


def test_stc_transform_is_frozen_and_hashable():
    tf = STC([34, 34, 2], 4)
    assert tf.sensor_size == (34, 34, 2)  # normalised to a tuple of ints
    with pytest.raises(dataclasses.FrozenInstanceError):
        tf.T = 2  # type: ignore[misc]
    assert hash(tf) == hash(STC((34, 34, 2), 4)) and tf == STC((34, 34, 2), 4)


def test_stc_settings_travel_as_a_dict_and_back(recording):
    tf = STC(NMNIST, 3, ratio=4, mode="exp", decay=0.7, spatial_factor=2, carry=True)
    d = tf.to_dict()
    assert d == {"sensor_size": [34, 34, 2], "T": 3, "ratio": 4, "mode": "exp", "decay": 0.7,
                 "spatial_factor": 2, "merge_polarity": False, "carry": True}
    assert json.loads(json.dumps(d)) == d and STC.from_dict(d) == tf
    assert STC.from_dict(d, sensor_size=(128, 128, 2)).sensor_size == (128, 128, 2)  # the given sensor wins
    assert tf.with_T(1) == dataclasses.replace(tf, T=1) == STC(NMNIST, 1, 4, "exp", 0.7, 2, carry=True)
    # frames of many recordings at once and on the fixed windows of streaming
    np.testing.assert_array_equal(tf.frames([recording, recording])[1], tf(recording))
    t0 = int(recording["t"][0])
    np.testing.assert_array_equal(
        tf.window_frames(recording, 20_000, 5),
        stc_numpy(recording, NMNIST, 5, 4, "exp", 0.7, 2, carry=True, t_start=t0, t_end=t0 + 100_000),
    )


def test_stc_from_dict_reads_the_settings_of_earlier_checkpoints_and_files():
    # what eventsnn wrote before STC was the one settings object: no sensor size, n_time_steps
    legacy = {"n_time_steps": 4, "ratio": 2, "mode": "exp", "decay": 0.5, "spatial_factor": 1,
              "merge_polarity": True, "carry": False}
    tf = STC.from_dict(legacy, sensor_size=[34, 34, 2])
    assert tf == STC(NMNIST, 4, ratio=2, mode="exp", merge_polarity=True)
    assert STC.from_dict({"n_time_steps": 2}, NMNIST) == STC(NMNIST, 2)  # defaults fill the rest
    with pytest.raises(InvalidParameterError, match="sensor_size"):
        STC.from_dict(legacy)
    with pytest.raises(InvalidParameterError, match="unknown STC setting"):
        STC.from_dict({**legacy, "window": 3}, NMNIST)
    with pytest.raises(InvalidParameterError, match="T must"):
        STC.from_dict({**legacy, "n_time_steps": 0}, NMNIST)


def test_deprecated_n_time_steps_still_works_and_warns(recording):
    with pytest.warns(DeprecationWarning, match="n_time_steps"):
        tf = STC(NMNIST, n_time_steps=4, spatial_factor=2)
    assert tf == STC(NMNIST, 4, spatial_factor=2)
    with pytest.warns(DeprecationWarning, match="STC.T"):
        assert tf.n_time_steps == 4
    with pytest.raises(TypeError, match="both T= and"):
        STC(NMNIST, T=4, n_time_steps=4)
    for fn, args in ((stc_numpy, (recording,)), (stc_numpy_batch, ([recording],))):
        with pytest.warns(DeprecationWarning, match="n_time_steps"):
            old = fn(*args, NMNIST, n_time_steps=3, ratio=2, mode="exp")
        np.testing.assert_array_equal(old, fn(*args, NMNIST, 3, ratio=2, mode="exp"))
    with pytest.warns(DeprecationWarning):
        assert stc_torch(*events_to_tensors(recording), NMNIST, n_time_steps=2).shape == (2, 2, 34, 34)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(T=0), "T must"),
        (dict(T=3, ratio=0), "ratio"),
        (dict(T=3, mode="max"), "mode"),
        (dict(T=3, decay=0.0), "decay"),
        (dict(T=3, decay=2.0), "decay"),
        (dict(T=3, spatial_factor=-1), "spatial_factor"),
        (dict(T=3, merge_polarity="yes"), "merge_polarity"),
        (dict(T=3, carry=1), "carry"),
    ],
)
def test_stc_transform_validates_on_construction(kw, match):
    with pytest.raises(InvalidParameterError, match=match):
        STC(NMNIST, **kw)


@pytest.mark.parametrize("sensor", [(34, 34), (34, "a", 2), None, (0, 34, 2)])
def test_stc_transform_rejects_bad_sensor(sensor):
    with pytest.raises(InvalidParameterError, match="sensor_size"):
        STC(sensor, 2)


def test_composes_with_tonic_denoise_on_a_real_recording(recording):
    transform = tonic.transforms.Compose([tonic.transforms.Denoise(filter_time=10000), STC(NMNIST, 4)])
    frames = transform(recording)
    denoised = tonic.transforms.Denoise(filter_time=10000)(recording)
    assert 0 < len(denoised) < len(recording)
    assert frames.shape == (4, 2, 34, 34) and frames.sum() == len(denoised)
    np.testing.assert_array_equal(frames, stc_numpy(denoised, NMNIST, 4))


def test_composes_on_tonic_dtype_and_to_tensor(nmnist_files):
    # Tonic's own reader gives its own dtype (int fields here, bool polarity in other datasets)
    raw = tonic.io.read_mnist_file(str(nmnist_files[7]), dtype=tonic.datasets.NMNIST.dtype)
    assert raw.dtype != EVENT_DTYPE
    transform = tonic.transforms.Compose(
        [tonic.transforms.Downsample(spatial_factor=0.5), STC((17, 17, 2), 2), ToTensor()]
    )
    frames = transform(raw)
    assert isinstance(frames, torch.Tensor) and frames.dtype == torch.float32
    assert frames.shape == (2, 2, 17, 17) and int(frames.sum()) == len(raw)
    as_bool = np.zeros(len(raw), dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
    for f in "xytp":
        as_bool[f] = raw[f]
    np.testing.assert_array_equal(STC(NMNIST, 2)(as_bool), STC(NMNIST, 2)(raw))


def test_to_tensor_shares_cpu_memory(recording):
    frames = STC(NMNIST, 2)(recording)
    tensor = ToTensor()(frames)
    assert tensor.data_ptr() == frames.ctypes.data
    assert ToTensor()(frames.astype(np.float64)).dtype == torch.float32


def test_stc_transform_on_empty_and_off_sensor_events():
    frames = STC(NMNIST, 3, spatial_factor=2)(empty_events())
    assert frames.shape == (3, 2, 17, 17) and not frames.any()
    bad = np.zeros(2, dtype=EVENT_DTYPE)
    bad["x"] = [0, 40]
    with pytest.raises(EventCoordinateError, match="x ranges over"):
        STC(NMNIST, 3)(bad)


def test_events_to_tensors_is_zero_copy_on_cpu(recording):
    x, y, t, p = events_to_tensors(recording)
    assert x.dtype == torch.int16 and t.dtype == torch.int64 and p.dtype == torch.int8
    assert x.data_ptr() == recording.ctypes.data  # a view of the structured array's x field
    np.testing.assert_array_equal(t.numpy(), recording["t"])
    np.testing.assert_array_equal(stc_torch(x, y, t, p, NMNIST, 4).numpy(), stc_numpy(recording, NMNIST, 4))


def test_batch_to_tensors_feeds_batched_stc_torch(nmnist_files):
    recs = [read_bin_events(f, NMNIST) for f in nmnist_files[:5]] + [empty_events()]
    x, y, t, p, sample = batch_to_tensors(recs)
    assert sample.dtype == torch.int64 and len(sample) == sum(len(r) for r in recs)
    out = stc_torch(x, y, t, p, NMNIST, 4, sample=sample, batch_size=len(recs))
    np.testing.assert_array_equal(out.numpy(), stc_numpy_batch(recs, NMNIST, 4))
