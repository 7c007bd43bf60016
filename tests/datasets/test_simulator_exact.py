"""The compiled simulator gives exactly the events of the plain numpy formulation.

:class:`~eventsnn.datasets.simulator.SaccadeSimulator` computes the threshold crossings in a
numba loop that skips pixels and logarithms which cannot give an event. Cached simulated sets and
every result measured on simulated data rely on it giving the recordings the numpy formulation
gave (eventsnn up to 0.x simulated with it), bit for bit: this file keeps that formulation as the
reference and compares field by field.
"""

from __future__ import annotations

import numpy as np
import pytest

from eventsnn.datasets import SaccadeSimulator
from eventsnn.events import EVENT_DTYPE


def _numpy_simulate(sim: SaccadeSimulator, images: np.ndarray, seed: int) -> list[np.ndarray]:
    """The numpy formulation: render the whole batch every ``dt_us`` (bilinear, float64),
    ``log(I + eps)``, ``n = floor(±(L - L_ref) / c)`` crossings per pixel, each timed by linear
    interpolation of the log between the two renders; noise drawn after; events of each image
    sorted by ``t`` (stable: render step, ON before OFF, row-major pixel, crossing, then noise)."""
    rng = np.random.default_rng(seed)
    w, h, _ = sim.sensor_size
    b = len(images)
    canvas = sim._canvas(np.clip(images.astype(np.float32), 0.0, 1.0))
    m = (canvas.shape[1] - h) // 2

    def render(dx: float, dy: float) -> np.ndarray:
        ix, iy = int(np.floor(dx)), int(np.floor(dy))
        fx, fy = dx - ix, dy - iy
        y0, x0 = m - iy, m - ix

        def crop(oy: int, ox: int) -> np.ndarray:
            return canvas[:, y0 - oy : y0 - oy + h, x0 - ox : x0 - ox + w]

        return (1 - fy) * ((1 - fx) * crop(0, 0) + fx * crop(0, 1)) + fy * ((1 - fx) * crop(1, 0) + fx * crop(1, 1))

    c_on, c_off = sim._thresholds(rng, b)  # the thresholds drawn: not what is compared here
    times = np.arange(0, sim.duration_us + 1, sim.dt_us, dtype=np.int64)
    dxs, dys = sim.path(times)
    log_prev = np.log(render(dxs[0], dys[0]) + sim.eps)
    ref = log_prev.copy()
    cols: list[list[np.ndarray]] = [[], [], [], [], []]  # image, x, y, t, on
    for i in range(1, len(times)):
        log_new = np.log(render(dxs[i], dys[i]) + sim.eps)
        delta = log_new - log_prev
        for sign, c in ((1, c_on), (-1, c_off)):
            n = np.maximum(np.floor(sign * (log_new - ref) / c).astype(np.int32), 0)
            bb, yy, xx = np.nonzero(n)
            counts = n[bb, yy, xx]
            rep = np.repeat(np.arange(len(bb)), counts)
            k = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
            level = ref[bb, yy, xx][rep] + sign * k * c[bb, yy, xx][rep]
            d = delta[bb, yy, xx][rep]
            frac = np.where(d != 0, (level - log_prev[bb, yy, xx][rep]) / np.where(d != 0, d, 1), 1.0)
            t = times[i - 1] + np.clip(frac, 0.0, 1.0) * sim.dt_us
            for col, v in zip(cols, (bb[rep], xx[rep], yy[rep], t.astype(np.int64), np.full(len(rep), sign > 0)),
                              strict=True):
                col.append(v)
            ref[bb, yy, xx] += sign * counts * c[bb, yy, xx]
        log_prev = log_new
    if sim.noise_rate_hz > 0:
        n_noise = rng.poisson(sim.noise_rate_hz * sim.duration_us * 1e-6 * b * h * w)
        for col, v in zip(cols, (rng.integers(0, b, n_noise), rng.integers(0, w, n_noise),
                                 rng.integers(0, h, n_noise), rng.integers(0, sim.duration_us, n_noise),
                                 rng.random(n_noise) < 0.5), strict=True):
            col.append(v)
    bb, xx, yy, tt, pp = (np.concatenate(c) if c else np.zeros(0, np.int64) for c in cols)
    out = []
    for j in range(b):
        sel = np.flatnonzero(bb == j)
        sel = sel[np.argsort(tt[sel], kind="stable")]
        ev = np.empty(len(sel), dtype=EVENT_DTYPE)
        ev["x"], ev["y"], ev["t"], ev["p"] = xx[sel], yy[sel], tt[sel], pp[sel]
        out.append(ev)
    return out


def _images(rng: np.random.Generator) -> np.ndarray:
    """Four 28x28 images: random grey levels, a white square, a blank one, soft blobs."""
    yy, xx = np.mgrid[:28, :28]
    square = np.zeros((28, 28))
    square[8:20, 6:14] = 1.0
    blobs = np.exp(-((yy - 9) ** 2 + (xx - 17) ** 2) / 20) + 0.6 * np.exp(-((yy - 20) ** 2 + (xx - 8) ** 2) / 8)
    return np.stack([rng.random((28, 28)), square, np.zeros((28, 28)), blobs]).astype(np.float32)


SIMULATORS = {
    "default": SaccadeSimulator(),
    "nmnist-like": SaccadeSimulator(velocity="smooth", contrast_on=0.2, contrast_off=0.3, noise_rate_hz=2.0,
                                    dt_us=1_000, corners=((0, 0), (1.5, 3.2), (3.1, 0.4))),
    "grey screen, 40x36 sensor": SaccadeSimulator(sensor_size=(40, 36, 2), background=0.5, amplitude=4.5,
                                                  threshold_mismatch=0.2, noise_rate_hz=0.0, n_saccades=4),
}


@pytest.mark.parametrize("name", list(SIMULATORS))
def test_compiled_simulator_gives_exactly_the_numpy_formulations_events(name):
    sim = SIMULATORS[name]
    images = _images(np.random.default_rng(11))
    expected = _numpy_simulate(sim, images, seed=7)
    got = sim.simulate(images, seed=7)
    assert [len(e) for e in got] == [len(e) for e in expected]
    assert sum(len(e) for e in expected[:2]) > 1_000  # the comparison covers many events
    for g, e in zip(got, expected, strict=True):
        for field in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(g[field], e[field], err_msg=f"{name}: field {field}")
        assert np.all(np.diff(g["t"]) >= 0)


def test_a_generator_seed_is_left_where_the_numpy_formulation_left_it():
    """Batches of a simulated set share one generator: the next batch must see the same draws."""
    images = _images(np.random.default_rng(3))
    for sim in (SaccadeSimulator(), SaccadeSimulator(noise_rate_hz=0.0)):
        rng = np.random.default_rng(5)
        sim.simulate(images, seed=rng)
        reference = np.random.default_rng(5)
        reference.standard_normal((2, 4, 34, 34))
        if sim.noise_rate_hz > 0:
            n = reference.poisson(sim.noise_rate_hz * sim.duration_us * 1e-6 * 4 * 34 * 34)
            for high in (4, 34, 34, sim.duration_us):
                reference.integers(0, high, n)
            reference.random(n)
        assert rng.random() == reference.random()
