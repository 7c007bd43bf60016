"""Event preprocessing: the causal background-activity filter (against Tonic's denoise) and
position normalisation, as functions and transforms."""

from __future__ import annotations

import numpy as np
import pytest
from tonic.functional import denoise_numpy

from eventsnn.datasets.dvs128objects import DVS128Objects
from eventsnn.errors import InvalidParameterError
from eventsnn.events import make_events
from eventsnn.functional.events import background_activity_mask, normalize_position
from eventsnn.transforms import BackgroundActivityFilter, NormalizePosition

SENSOR = (128, 128, 2)


@pytest.fixture(scope="module")
def caneca(data_dir) -> np.ndarray:
    ds = DVS128Objects(data_dir, sessions=["DataSet2"])
    return ds.read(ds.recording_ids.index("DataSet2/mug/Caneca"))


def test_filter_rule_on_hand_made_events():
    # (5, 5) at 0; its diagonal neighbour (6, 6) 10 µs later; (8, 8) isolated; (5, 5) again 25 µs after
    # (6, 6); (7, 5) 35 µs after (6, 6), too late
    ev = make_events([5, 6, 8, 5, 7], [5, 6, 8, 5, 5], [0, 10, 20, 35, 45], [1, 0, 1, 1, 1])
    assert background_activity_mask(ev, SENSOR, 30).tolist() == [False, True, False, True, False]
    # 4 neighbours: the diagonal does not count; the window is strict (t_i - t_j < dt)
    assert background_activity_mask(ev, SENSOR, 30, neighbours=4).tolist() == [False, False, False, False, False]
    assert background_activity_mask(ev, SENSOR, 10).tolist() == [False, False, False, False, False]
    assert BackgroundActivityFilter(SENSOR, 30)(ev)["t"].tolist() == [10, 35]


def test_filter_equals_tonic_denoise_with_four_neighbours(caneca):
    """Tonic's rule, minus its start-up exception (every pixel counts as having fired at t=0)."""
    part = caneca[:30_000].copy()
    part["t"] += 10_000  # past Tonic's start-up period
    mine = BackgroundActivityFilter(SENSOR, 10_000, neighbours=4)(part)
    assert 0 < len(mine) < len(part)
    assert np.array_equal(mine, denoise_numpy(part, filter_time=10_000))


def test_filter_is_causal_and_checks_its_input(caneca):
    whole = BackgroundActivityFilter(SENSOR, 30_000)(caneca)
    assert 0.6 < len(whole) / len(caneca) < 0.7  # 66 % of the mug recording has support
    first = BackgroundActivityFilter(SENSOR, 30_000)(caneca[:100_000])
    assert np.array_equal(first, whole[: len(first)])  # later events change no earlier decision
    with pytest.raises(InvalidParameterError, match="sorted in time"):
        background_activity_mask(caneca[::-1], SENSOR, 30_000)
    with pytest.raises(InvalidParameterError, match="dt_us"):
        BackgroundActivityFilter(SENSOR, 0)
    with pytest.raises(InvalidParameterError, match="neighbours"):
        BackgroundActivityFilter(SENSOR, 10, neighbours=6)
    with pytest.raises(InvalidParameterError, match="off the 34x34 sensor"):
        background_activity_mask(caneca[:10], (34, 34, 2), 10)


def test_normalize_centres_and_scales_a_real_window(caneca):
    w = caneca[(caneca["t"] >= 3_000_000) & (caneca["t"] < 3_300_000)]
    out = NormalizePosition(SENSOR, "scale", 16.0)(w)
    x, y = out["x"].astype(float), out["y"].astype(float)
    assert (np.median(x), np.median(y)) == (64.0, 64.0)
    assert abs(np.median(np.hypot(x - 64, y - 64)) - 16.0) < 0.5  # rounding to pixels
    assert 0.95 * len(w) < len(out) <= len(w) and np.all(np.diff(out["t"]) >= 0)
    centred = NormalizePosition(SENSOR, "center")(w)
    nx = np.rint(w["x"] - np.median(w["x"]) + 64).astype(int)  # a pure shift of every event
    ny = np.rint(w["y"] - np.median(w["y"]) + 64).astype(int)
    on = (nx >= 0) & (nx < 128) & (ny >= 0) & (ny < 128)
    assert 0 < (~on).sum() < 0.05 * len(w)  # the few shifted off the sensor are dropped
    assert np.array_equal(centred["x"], nx[on]) and np.array_equal(centred["y"], ny[on])
    assert np.array_equal(centred["t"], w["t"][on]) and np.array_equal(centred["p"], w["p"][on])


def test_rotate_turns_the_principal_axis_horizontal():
    rng = np.random.default_rng(0)
    along, across = rng.normal(0, 12, 4000), rng.normal(0, 3, 4000)
    for deg in (-70, -30, 20, 60, 85):  # a bar at deg degrees, off centre
        a = np.radians(deg)
        x = np.rint(50 + np.cos(a) * along - np.sin(a) * across).astype(int)
        y = np.rint(70 + np.sin(a) * along + np.cos(a) * across).astype(int)
        ev = make_events(x, y, np.arange(4000), np.ones(4000, int))
        out = NormalizePosition(SENSOR, "rotate", 8.0)(ev)
        u, v = out["x"] - 64.0, out["y"] - 64.0
        assert np.var(u) > 10 * np.var(v) and abs(np.corrcoef(u, v)[0, 1]) < 0.05, deg
        assert abs(np.median(np.hypot(u, v)) - 8) < 0.5 and len(out) == 4000
        scaled = NormalizePosition(SENSOR, "scale", 8.0)(ev)
        assert not np.var(scaled["x"]) > 10 * np.var(scaled["y"])  # not turned


def test_normalize_edges():
    ev = make_events([0, 127, 64, 3], [0, 127, 64, 9], [0, 1, 2, 3], [1, 0, 1, 0])
    mirrored = normalize_position(ev, SENSOR, "none", similarity=(1.0, 0.0, 0.0, 0.0, True))
    assert mirrored["x"].tolist() == [127, 0, 63, 124] and np.array_equal(mirrored["y"], ev["y"])
    shifted = normalize_position(ev, SENSOR, "none", similarity=(1.0, 0.0, 10.0, 0.0, False))
    assert shifted["x"].tolist() == [10, 74, 13] and shifted["t"].tolist() == [0, 2, 3]  # x=137 left the sensor
    assert np.array_equal(normalize_position(ev[:2], SENSOR, "scale"), ev[:2])  # too few events: unchanged
    with pytest.raises(InvalidParameterError, match="mode must be one of"):
        NormalizePosition(SENSOR, "spin")
    with pytest.raises(InvalidParameterError, match="target_spread"):
        NormalizePosition(SENSOR, "scale", 0.0)
