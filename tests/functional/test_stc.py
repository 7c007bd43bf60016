"""Spatio-temporal compression: exactness on real recordings, semantics, paths, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tonic
import torch
from numpy.lib.recfunctions import require_fields  # by field name; astype casts by position

from eventsnn.errors import EventCoordinateError, EventFormatError, InvalidParameterError
from eventsnn.events import empty_events, make_events, read_bin_events
from eventsnn.functional.stc import stc_numpy, stc_numpy_batch, stc_output_shape, stc_torch
from eventsnn.transforms import batch_to_tensors, events_to_tensors

NMNIST = (34, 34, 2)
DVS = (128, 128, 2)
TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

CONFIGS = [
    dict(T=1),
    dict(T=4),
    dict(T=3, ratio=5, mode="exp", decay=0.7),
    dict(T=4, ratio=2, mode="exp", decay=0.5, carry=True),
    dict(T=2, spatial_factor=3),
    dict(T=5, merge_polarity=True, spatial_factor=4),
]


@pytest.fixture(scope="module")
def nmnist_sample(nmnist_files) -> list[np.ndarray]:
    """Every 10th real N-MNIST recording (100 files, all classes)."""
    return [read_bin_events(f, NMNIST) for f in nmnist_files[::10]]


@pytest.fixture(scope="module")
def clips(dvs_clips) -> list[np.ndarray]:
    return [read_bin_events(f, DVS) for f in dvs_clips]


def tonic_lost(t: np.ndarray, T: int) -> int:
    """Events ToFrame(n_time_bins=T) drops: its T windows of (t[-1]-t[0])//T µs end before t[-1]."""
    return int(np.sum(t >= t[0] + T * ((int(t[-1]) - int(t[0])) // T)))


def reference_stc(ev, sensor_size, T, ratio=1, mode="sum", decay=0.5, carry=False, t_start=None, t_end=None):
    """Direct, slow reference: fine frames F by a loop over events, then I <- decay*I + F."""
    w, h, n_pol = sensor_size
    t = ev["t"].astype(np.int64)
    t0 = int(t.min()) if t_start is None else t_start
    t1 = int(t.max()) + 1 if t_end is None else t_end
    n_fine = T * ratio
    fine = np.zeros((n_fine, n_pol, h, w), dtype=np.float64)
    for e in ev:
        ti = int(e["t"])
        if t0 <= ti < t1:
            fine[(ti - t0) * n_fine // (t1 - t0), int(e["p"]), int(e["y"]), int(e["x"])] += 1
    out = np.zeros((T, n_pol, h, w), dtype=np.float64)
    current = np.zeros((n_pol, h, w), dtype=np.float64)
    for j in range(n_fine):
        if j % ratio == 0 and not carry:
            current[:] = 0
        if mode == "exp":
            current = decay * current + fine[j]
        else:
            current = current + fine[j]
        if j % ratio == ratio - 1:
            out[j // ratio] = current
    return out


# --- exactness on real recordings -------------------------------------------------------------


@pytest.mark.parametrize("T", [1, 3, 8])
def test_sum_counts_every_event_on_real_nmnist_unlike_tonic(nmnist_sample, T):
    to_frame = tonic.transforms.ToFrame(sensor_size=NMNIST, n_time_bins=T)
    for ev in nmnist_sample:
        frames = stc_numpy(ev, NMNIST, T)
        assert frames.shape == (T, 2, 34, 34) and frames.dtype == np.float32
        assert frames.sum() == len(ev)
        theirs = to_frame(require_fields(ev, TONIC_DTYPE))
        lost = tonic_lost(ev["t"], T)
        assert lost >= 1 and theirs.sum() == len(ev) - lost  # Tonic drops the tail event(s)
        if T == 1:  # one bin: Tonic's frame is ours minus exactly the dropped tail
            np.testing.assert_array_equal(
                frames[0] - theirs[0], stc_numpy(ev[len(ev) - lost :], NMNIST, 1)[0]
            )


@pytest.mark.parametrize("T", [1, 4])
def test_sum_counts_every_event_on_real_128x128_clips(clips, T):
    to_frame = tonic.transforms.ToFrame(sensor_size=DVS, n_time_bins=T)
    assert len(clips) == 10
    for ev in clips:
        assert 60_000 < len(ev) < 200_000
        frames = stc_numpy(ev, DVS, T)
        assert frames.shape == (T, 2, 128, 128)
        assert frames.sum(dtype=np.float64) == len(ev)
        theirs = to_frame(require_fields(ev, TONIC_DTYPE))
        assert theirs.sum() == len(ev) - tonic_lost(ev["t"], T) < len(ev)


def test_batch_of_real_clips_counts_every_event_per_clip(clips):
    frames = stc_numpy_batch(clips, DVS, 4)
    assert frames.shape == (10, 4, 2, 128, 128)
    np.testing.assert_array_equal(frames.sum(axis=(1, 2, 3, 4), dtype=np.float64), [len(c) for c in clips])


def test_hot_pixel_does_not_overflow_unlike_tonic():
    n = 100_000
    ev = make_events(np.full(n, 7), np.full(n, 3), np.arange(n) * 10, np.ones(n))
    frames = stc_numpy(ev, NMNIST, 1)
    assert frames[0, 1, 3, 7] == n and frames.sum() == n
    theirs = tonic.transforms.ToFrame(sensor_size=NMNIST, n_time_bins=1)(require_fields(ev, TONIC_DTYPE))
    kept = n - tonic_lost(ev["t"], 1)
    assert theirs[0, 1, 3, 7] == np.array(kept).astype(np.int16) < 0  # int16 wrapped around
    assert stc_torch(*events_to_tensors(ev), NMNIST, 1)[0, 1, 3, 7] == n


# --- shapes and layout -------------------------------------------------------------------------


@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_empty_recording_gives_zero_frames_of_the_usual_shape(kw):
    shape = stc_output_shape(NMNIST, kw["T"], kw.get("spatial_factor", 1), kw.get("merge_polarity", False))
    for events in (empty_events(), np.zeros(0, dtype=TONIC_DTYPE)):
        frames = stc_numpy(events, NMNIST, **kw)
        assert frames.shape == shape and frames.dtype == np.float32 and not frames.any()
    batch = stc_numpy_batch([empty_events(), empty_events()], NMNIST, **kw)
    assert batch.shape == (2, *shape) and batch.dtype == np.float32 and not batch.any()
    out = stc_torch(*events_to_tensors(empty_events()), NMNIST, **kw)
    assert out.shape == shape and out.dtype == torch.float32 and not out.any()


def test_empty_recording_inside_a_batch(nmnist_sample):
    recs = [nmnist_sample[0], empty_events(), nmnist_sample[1]]
    frames = stc_numpy_batch(recs, NMNIST, 4)
    assert not frames[1].any()
    np.testing.assert_array_equal(frames[0], stc_numpy(recs[0], NMNIST, 4))
    np.testing.assert_array_equal(frames[2], stc_numpy(recs[2], NMNIST, 4))


def test_non_square_sensor_layout_is_T_P_H_W():
    sensor = (40, 20, 2)  # W=40, H=20
    ev = make_events([39, 0, 39, 5], [5, 19, 5, 0], [0, 10, 20, 30], [1, 0, 1, 0])
    frames = stc_numpy(ev, sensor, 2)
    assert frames.shape == (2, 2, 20, 40)
    assert frames[0, 1, 5, 39] == 1 and frames[0, 0, 19, 0] == 1
    assert frames[1, 1, 5, 39] == 1 and frames[1, 0, 0, 5] == 1 and frames.sum() == 4
    theirs = tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=2)(require_fields(ev, TONIC_DTYPE))
    assert theirs.shape == frames.shape
    empty = stc_numpy(empty_events(), sensor, 2, spatial_factor=3)
    assert empty.shape == (2, 2, 7, 14)  # ceil(20/3), ceil(40/3)


# --- semantics -------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_batch_equals_per_recording(nmnist_sample, kw):
    recs = nmnist_sample[:12]
    batch = stc_numpy_batch(recs, NMNIST, **kw)
    single = np.stack([stc_numpy(r, NMNIST, **kw) for r in recs])
    assert batch.shape == single.shape and batch.dtype == np.float32
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)
    if kw.get("mode", "sum") == "sum":
        np.testing.assert_array_equal(batch, single)
        assert batch.sum(dtype=np.float64) == sum(len(r) for r in recs)


def test_batch_of_mixed_recordings_leaves_them_alone(nmnist_sample):
    shuffled = nmnist_sample[20][np.random.default_rng(1).permutation(len(nmnist_sample[20]))]
    before = shuffled.copy()
    recs = [nmnist_sample[21], shuffled, empty_events(), nmnist_sample[22][:700], shuffled[:900]]
    for kw in CONFIGS:
        batch = stc_numpy_batch(recs, NMNIST, **kw)
        single = np.stack([stc_numpy(r, NMNIST, **kw) for r in recs])
        np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(shuffled, before)  # sorted copies, not in place
    assert stc_numpy_batch([], NMNIST, 3).shape == (0, 3, 2, 34, 34)


@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_torch_cpu_path_equals_numpy_path(nmnist_sample, kw):
    recs = nmnist_sample[:6]
    ref = stc_numpy_batch(recs, NMNIST, **kw)
    x, y, t, p, sample = batch_to_tensors(recs)
    out = stc_torch(x, y, t, p, NMNIST, sample=sample, batch_size=len(recs), **kw)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    one = stc_torch(*events_to_tensors(recs[0]), NMNIST, **kw)
    if kw.get("mode", "sum") == "sum":
        np.testing.assert_array_equal(out.numpy(), ref)
        np.testing.assert_array_equal(one.numpy(), ref[0])
    else:
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(one.numpy(), ref[0], rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("kw", CONFIGS, ids=str)
def test_torch_cuda_path_equals_numpy_path(nmnist_sample, kw):
    recs = nmnist_sample[:6]
    ref = stc_numpy_batch(recs, NMNIST, **kw)
    x, y, t, p, sample = batch_to_tensors(recs, device="cuda")
    out = stc_torch(x, y, t, p, NMNIST, sample=sample, batch_size=len(recs), **kw)
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-5, atol=1e-6)
    if kw.get("mode", "sum") == "sum":
        np.testing.assert_array_equal(out.cpu().numpy(), ref)


@pytest.mark.parametrize("carry", [False, True])
@pytest.mark.parametrize(("T", "ratio", "decay"), [(3, 4, 0.5), (2, 1, 0.8), (4, 3, 1.0)])
def test_exp_mode_matches_direct_synaptic_current(nmnist_sample, T, ratio, decay, carry):
    ev = nmnist_sample[3][:1500]
    ref = reference_stc(ev, NMNIST, T, ratio, "exp", decay, carry)
    np.testing.assert_allclose(stc_numpy(ev, NMNIST, T, ratio, "exp", decay, carry=carry), ref, rtol=1e-5, atol=1e-5)


def test_sum_mode_matches_reference_and_ignores_ratio(nmnist_sample):
    ev = nmnist_sample[5][:1500]
    ref = reference_stc(ev, NMNIST, 4, ratio=3)
    np.testing.assert_array_equal(stc_numpy(ev, NMNIST, 4, ratio=3), ref)
    np.testing.assert_array_equal(stc_numpy(ev, NMNIST, 4, ratio=1), ref)


def test_carry_by_hand():
    # window [0, 4) µs, T=2, ratio=2: fine bins of 1 µs; events in fine bins 0 and 3
    ev = make_events([0, 1], [0, 0], [0, 3], [0, 0])
    kw = dict(ratio=2, mode="exp", decay=0.5, t_start=0, t_end=4)
    no_carry = stc_numpy(ev, (2, 1, 1), 2, **kw)
    np.testing.assert_array_equal(no_carry[:, 0, 0], [[0.5, 0.0], [0.0, 1.0]])
    carried = stc_numpy(ev, (2, 1, 1), 2, carry=True, **kw)
    np.testing.assert_array_equal(carried[:, 0, 0], [[0.5, 0.0], [0.5 * 0.5**2, 1.0]])
    # carry is a no-op in sum mode
    np.testing.assert_array_equal(stc_numpy(ev, (2, 1, 1), 2, carry=True), stc_numpy(ev, (2, 1, 1), 2))


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_spatial_factor_sum_pools_and_keeps_totals(nmnist_sample, factor):
    ev = nmnist_sample[7]
    full = stc_numpy(ev, NMNIST, 3)
    pooled = stc_numpy(ev, NMNIST, 3, spatial_factor=factor)
    side = -(-34 // factor)
    assert pooled.shape == (3, 2, side, side)
    assert pooled.sum() == len(ev)
    padded = np.zeros((3, 2, side * factor, side * factor), np.float32)
    padded[..., :34, :34] = full
    expected = padded.reshape(3, 2, side, factor, side, factor).sum(axis=(3, 5))
    np.testing.assert_array_equal(pooled, expected)


def test_merge_polarity_sums_the_channels(nmnist_sample):
    ev = nmnist_sample[9]
    merged = stc_numpy(ev, NMNIST, 4, merge_polarity=True)
    assert merged.shape == (4, 1, 34, 34)
    np.testing.assert_array_equal(merged[:, 0], stc_numpy(ev, NMNIST, 4).sum(axis=1))
    # a single-polarity sensor merges too (any polarity value is accepted)
    np.testing.assert_array_equal(stc_numpy(ev, (34, 34, 1), 4), merged)


def test_explicit_window_excludes_outside_events(nmnist_sample):
    ev = nmnist_sample[11]
    t = ev["t"]
    t_start, t_end = int(t[len(t) // 4]), int(t[3 * len(t) // 4])
    inside = (t >= t_start) & (t < t_end)
    for kw in (dict(T=4), dict(T=2, ratio=3, mode="exp")):
        frames = stc_numpy(ev, NMNIST, t_start=t_start, t_end=t_end, **kw)
        np.testing.assert_array_equal(frames, stc_numpy(ev[inside], NMNIST, t_start=t_start, t_end=t_end, **kw))
        if kw.get("mode") != "exp":
            assert frames.sum() == inside.sum() < len(ev)
    np.testing.assert_array_equal(
        stc_numpy(ev[:2000], NMNIST, 4, t_start=t_start - 5000, t_end=t_end),
        reference_stc(ev[:2000], NMNIST, 4, t_start=t_start - 5000, t_end=t_end),
    )


def test_unsorted_input_gives_the_same_frames(nmnist_sample):
    ev = nmnist_sample[13]
    shuffled = ev[np.random.default_rng(0).permutation(len(ev))]
    assert np.any(np.diff(shuffled["t"]) < 0)
    for kw in CONFIGS:
        np.testing.assert_allclose(stc_numpy(shuffled, NMNIST, **kw), stc_numpy(ev, NMNIST, **kw), rtol=1e-6, atol=1e-6)
    recs = [ev, shuffled, empty_events(), shuffled[:100], ev[:50]]
    for kw in CONFIGS[1:4]:
        batch = stc_numpy_batch(recs, NMNIST, **kw)
        np.testing.assert_allclose(batch, np.stack([stc_numpy(r, NMNIST, **kw) for r in recs]), rtol=1e-6, atol=1e-6)
    x, y, t, p = events_to_tensors(shuffled)
    np.testing.assert_array_equal(stc_torch(x, y, t, p, NMNIST, 4).numpy(), stc_numpy(ev, NMNIST, 4))


def test_unsorted_windowed_and_long_recordings_match_the_torch_path(nmnist_sample, clips):
    # the kernel bins sorted events by walking the bin starts and unsorted ones by binary search;
    # the torch path divides per event: they must agree on every event
    long = clips[0][:40_000]
    shuffled = long[np.random.default_rng(1).permutation(len(long))]
    # first and last event in place, the rest shuffled: binned without the min/max retry
    middle = np.concatenate([long[:1], long[1:-1][np.random.default_rng(2).permutation(len(long) - 2)], long[-1:]])
    for ev, sensor in ((long, DVS), (shuffled, DVS), (middle, DVS), (nmnist_sample[17], NMNIST)):
        x, y, t, p = events_to_tensors(ev)
        for T in (1, 3, 8):
            got = stc_numpy(ev, sensor, T)
            np.testing.assert_array_equal(got, stc_torch(x, y, t, p, sensor, T).numpy())
            assert got.sum() == len(ev)
    # an explicit window keeps exactly the events inside it, sorted or not
    t = long["t"]
    t0, t1 = int(t[3000]), int(t[17_000])
    inside = int(((t >= t0) & (t < t1)).sum())
    ref = stc_numpy(long[(t >= t0) & (t < t1)], DVS, 5, t_start=t0, t_end=t1)
    for ev in (long, shuffled):
        got = stc_numpy(ev, DVS, 5, t_start=t0, t_end=t1)
        np.testing.assert_array_equal(got, ref)
        assert got.sum() == inside


def test_a_recording_spanning_centuries_is_binned_without_overflow():
    # (t1 - t0) * n_bins overflows int64 here: the exact Python-integer bin starts take over
    ev = make_events([0, 1, 2, 3], [0, 0, 0, 0], [0, 2**61, 2**62 - 1, 2**62], [0, 0, 1, 1])
    frames = stc_numpy(ev, NMNIST, 4)
    assert frames.sum() == 4
    assert frames[:, :, 0, :].sum(axis=(1, 2)).tolist() == [1.0, 1.0, 0.0, 2.0]


def test_any_structured_dtype_and_non_contiguous_input(nmnist_sample):
    ev = nmnist_sample[15]
    ref = stc_numpy(ev, NMNIST, 4)
    for dtype in (TONIC_DTYPE, tonic.datasets.NMNIST.dtype, [("t", "<u8"), ("p", "<i2"), ("y", "<u1"), ("x", "<f8")]):
        other = np.empty(len(ev), dtype=dtype)
        for f in "xytp":  # by name (astype between structured dtypes maps fields by position)
            other[f] = ev[f]
        np.testing.assert_array_equal(stc_numpy(other, NMNIST, 4), ref)
    np.testing.assert_array_equal(stc_numpy(ev[::2], NMNIST, 4), stc_numpy(ev[::2].copy(), NMNIST, 4))
    assert stc_numpy(ev[::2], NMNIST, 4).sum() == len(ev[::2])


# --- bad input -------------------------------------------------------------------------------


def _ev(x=(1, 2), y=(1, 2), p=(0, 1)):
    return make_events(list(x), list(y), [0, 10], list(p))


@pytest.mark.parametrize(
    ("events", "match"),
    [
        (_ev(x=(1, 34)), r"x ranges over \[1, 34\]"),
        (_ev(x=(-1, 2)), r"x ranges over \[-1, 2\]"),
        (_ev(y=(1, 34)), r"y ranges over \[1, 34\]"),
        (_ev(y=(-3, 2)), r"y ranges over \[-3, 2\]"),
        (_ev(p=(0, 2)), r"polarity ranges over \[0, 2\]"),
        (_ev(p=(-1, 1)), r"polarity"),
    ],
)
@pytest.mark.parametrize("T", [1, 2])
def test_off_sensor_coordinates_raise(events, match, T):
    with pytest.raises(EventCoordinateError, match=match):
        stc_numpy(events, NMNIST, T)
    with pytest.raises(EventCoordinateError, match="recording 1"):
        stc_numpy_batch([_ev(), events], NMNIST, T)
    with pytest.raises(EventCoordinateError, match="recording 0"):
        stc_numpy_batch([events], NMNIST, T)
    with pytest.raises(EventCoordinateError):
        stc_torch(*events_to_tensors(events), NMNIST, T)


def test_coordinates_beyond_int16_raise():
    ev = np.zeros(2, dtype=[("x", "i8"), ("y", "i8"), ("t", "i8"), ("p", "i8")])
    ev["x"] = [0, 70_000]
    with pytest.raises(EventCoordinateError):
        stc_numpy(ev, NMNIST, 1)


@pytest.mark.parametrize(
    "events",
    [np.zeros((5, 4), dtype=np.int64), np.zeros(3, dtype=[("x", "i2"), ("y", "i2"), ("t", "i8")]), [1, 2, 3]],
    ids=["plain-array", "missing-p", "list"],
)
def test_wrong_dtype_raises(events):
    with pytest.raises(EventFormatError):
        stc_numpy(events, NMNIST, 2)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(T=0), "T must"),
        (dict(T=-2), "T must"),
        (dict(T=2.0), "T must"),
        (dict(T=2, ratio=0), "ratio"),
        (dict(T=2, mode="mean"), "mode"),
        (dict(T=2, decay=0.0), "decay"),
        (dict(T=2, decay=1.5), "decay"),
        (dict(T=2, spatial_factor=0), "spatial_factor"),
    ],
)
def test_bad_parameters_raise_naming_the_argument(kw, match):
    ev = _ev()
    with pytest.raises(InvalidParameterError, match=match):
        stc_numpy(ev, NMNIST, **kw)
    with pytest.raises(InvalidParameterError, match=match):
        stc_numpy_batch([ev], NMNIST, **kw)
    with pytest.raises(InvalidParameterError, match=match):
        stc_torch(*events_to_tensors(ev), NMNIST, **kw)


def test_bad_sensor_and_empty_window_raise():
    with pytest.raises(InvalidParameterError, match="sensor_size"):
        stc_numpy(_ev(), (34, 34), 2)
    with pytest.raises(InvalidParameterError, match="sensor_size"):
        stc_numpy(_ev(), (34, 0, 2), 2)
    with pytest.raises(InvalidParameterError, match="window"):
        stc_numpy(_ev(), NMNIST, 2, t_start=10, t_end=10)
