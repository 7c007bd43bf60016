"""The event-camera simulator and the simulated datasets."""

from __future__ import annotations

import numpy as np
import pytest

from eventsnn.datasets import SaccadeSimulator, SyntheticShapes, get_dataset, simulated_nmnist
from eventsnn.datasets.images import load_mnist, read_idx
from eventsnn.errors import CorruptRecordingError, DatasetNotFoundError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, validate_events
from eventsnn.functional.stc import stc_numpy


def test_static_blank_image_gives_only_noise():
    sim = SaccadeSimulator(noise_rate_hz=0.0)
    assert len(sim.simulate(np.zeros((28, 28)))) == 0
    assert len(sim.simulate(np.full((28, 28), 0.5))) > 0  # edges of the grey square move


def test_bright_square_gives_on_and_off_events_on_its_edges():
    img = np.zeros((28, 28), np.float32)
    img[10:18, 10:18] = 1.0
    ev = SaccadeSimulator(noise_rate_hz=0.0).simulate(img, seed=1)
    validate_events(ev, (34, 34, 2))
    assert ev.dtype == EVENT_DTYPE
    assert 0.3 < ev["p"].mean() < 0.7
    # events only near the square (placed at offset 3 on the 34x34 sensor, moved by <= 2 px)
    assert ev["x"].min() >= 3 + 10 - 3 and ev["x"].max() <= 3 + 17 + 3
    assert ev["t"].max() <= 300_000


def test_simulation_is_deterministic_per_seed():
    img = np.random.default_rng(0).random((28, 28))
    a, b = SaccadeSimulator().simulate(img, seed=5), SaccadeSimulator().simulate(img, seed=5)
    np.testing.assert_array_equal(a, b)


def test_simulated_mnist_resembles_real_nmnist(data_dir, nmnist_files):
    sim = simulated_nmnist(data_dir, "train", limit=40)
    counts = [len(e) for e in sim.recordings]
    real = [f.stat().st_size // 5 for f in nmnist_files[:200]]
    assert 0.5 < np.median(counts) / np.median(real) < 2.0
    # the summed events look like the digit: correlate with the MNIST image
    images, labels = load_mnist(data_dir)
    frame = stc_numpy(sim.recordings[0], (34, 34, 2), 1)[0].sum(0)[3:31, 3:31]
    r = np.corrcoef(frame.ravel(), images[1000].ravel())[0, 1]
    assert r > 0.3 and sim.targets[0] == labels[1000] == 9
    # the training split leaves out MNIST test images 0-999 (those of the official N-MNIST tests)
    assert sim.targets[:20] == labels[1000:1020].tolist()


def _on_minus_off(recordings, t0_us, t1_us):
    """Mean (x, y) of the ON events minus that of the OFF events in ``[t0, t1)`` µs."""
    d = []
    for ev in recordings:
        t = ev["t"] - ev["t"][0]
        m = (t >= t0_us) & (t < t1_us)
        on, off = m & (ev["p"] == 1), m & (ev["p"] == 0)
        d.append([ev["x"][on].mean() - ev["x"][off].mean(), ev["y"][on].mean() - ev["y"][off].mean()])
    return np.mean(d, axis=0)


def test_simulated_mnist_has_the_real_recordings_polarity(data_dir, nmnist_files):
    """In the real N-MNIST files the leading edge of the moving digit gives OFF events: in the
    first saccade (digit moving down, +y) the ON events lie above the OFF ones; in the last
    (moving left, -x) to their right. The simulated N-MNIST must show the same, or a network
    pre-trained on it learns the opposite edges."""
    from eventsnn.events import read_bin_events

    real = [read_bin_events(f) for f in nmnist_files[::50]]
    sim = simulated_nmnist(data_dir, "train", limit=20).recordings
    for recs in (real, sim):
        first = _on_minus_off(recs, 20_000, 80_000)
        last = _on_minus_off(recs, 220_000, 280_000)
        assert first[1] < -1.5 and last[0] > 1.5, (first, last)


def test_smooth_saccades_bunch_events_mid_saccade():
    img = np.zeros((28, 28), np.float32)
    img[6:22, 12:16] = 1.0
    counts = {}
    for velocity in ("constant", "smooth"):
        ev = SaccadeSimulator(noise_rate_hz=0.0, velocity=velocity).simulate(img, seed=0)
        t = ev["t"] % 100_000  # position inside each 100 ms saccade
        counts[velocity] = ((t > 25_000) & (t < 75_000)).mean()
    assert 0.4 < counts["constant"] < 0.6 and counts["smooth"] > 0.65


def test_path_visits_the_given_corners_centred():
    sim = SaccadeSimulator(corners=((0, 0), (1, 5), (5, 0)), duration_us=300_000, n_saccades=3)
    dx, dy = sim.path(np.array([0, 100_000, 200_000, 300_000]))
    np.testing.assert_allclose(dx, [-2.5, -1.5, 2.5, -2.5])
    np.testing.assert_allclose(dy, [-2.5, 2.5, -2.5, -2.5])
    tri = SaccadeSimulator(amplitude=4.0)  # default triangle (0, 0), (a/2, a), (a, 0)
    np.testing.assert_allclose(tri.path(np.array([100_000]))[1], [2.0])


def test_background_screen_makes_no_events_by_itself():
    sim = SaccadeSimulator(noise_rate_hz=0.0, background=1.0)
    assert len(sim.simulate(np.ones((28, 28)))) == 0  # a white image on a white screen
    dark = sim.simulate(1 - np.pad(np.ones((8, 8)), 10))  # a dark square: edges only
    assert len(dark) > 0


def test_synthetic_default_dataset():
    ds = get_dataset("synthetic", split="test", n_samples=50)
    assert isinstance(ds, SyntheticShapes) and len(ds) == 50
    assert len(ds.classes) == 10 and np.bincount(ds.targets).tolist() == [5] * 10
    ev, label = ds[7]
    validate_events(ev, (34, 34, 2))
    assert len(ev) > 500
    again = SyntheticShapes("test", n_samples=50)
    np.testing.assert_array_equal(again[7][0], ev)
    assert again.targets == ds.targets


def test_bad_simulator_arguments(tmp_path):
    with pytest.raises(InvalidParameterError):
        SaccadeSimulator(dt_us=0)
    with pytest.raises(InvalidParameterError, match="velocity"):
        SaccadeSimulator(velocity="jerky")
    with pytest.raises(InvalidParameterError, match="corners"):
        SaccadeSimulator(corners=((0, 0),))
    with pytest.raises(InvalidParameterError, match="background"):
        SaccadeSimulator(background=2.0)
    with pytest.raises(InvalidParameterError, match="do not fit"):
        SaccadeSimulator().simulate(np.zeros((40, 40)))
    with pytest.raises(DatasetNotFoundError, match="t10k-images"):
        load_mnist(tmp_path)
    (tmp_path / "bad.gz").write_bytes(b"not gzip")
    with pytest.raises(CorruptRecordingError):
        read_idx(tmp_path / "bad.gz")


# ---------------------------------------------------------------- lazy simulated datasets

def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal events (field by field: the padding bytes of the aligned dtype are undefined)."""
    return len(a) == len(b) and all(np.array_equal(a[f], b[f]) for f in ("x", "y", "p", "t"))


def _eager(grey: np.ndarray, sim: SaccadeSimulator, seed: int, split_offset: int) -> list[np.ndarray]:
    """The recordings as eventsnn simulated them before it became lazy: every image converted
    at once, then simulated 200 at a time with the generator seeded by (seed, split, start)."""
    out: list[np.ndarray] = []
    for s in range(0, len(grey), 200):
        out += sim.simulate(grey[s : s + 200], seed=np.random.default_rng([seed, split_offset, s]))
    return out


def test_simulated_nmnist_is_lazy_and_gives_the_recordings_it_always_gave(data_dir):
    from eventsnn.datasets.images import to_grey
    from eventsnn.datasets.synthetic import NMNIST_IMAGE_HW, _resize

    ds = simulated_nmnist(data_dir, "train", limit=250, seed=2)
    assert ds._batches == {}  # nothing simulated when opened
    images = load_mnist(data_dir)[0][1000:1250]
    grey = 1.0 - np.clip(_resize(to_grey(images), NMNIST_IMAGE_HW), 0.0, 1.0)
    expected = _eager(grey.astype(np.float32), ds.simulator, 2, 0)
    for i in (230, 3, 199, 200, 249, 0):  # any order, across the batch boundary
        assert _same(ds.read(i), expected[i]), i
        assert len(ds._batches) == 1  # memory: the batch holding the last index read, only
    assert [len(r) for r in ds.recordings[198:202]] == [len(r) for r in expected[198:202]]
    kept = simulated_nmnist(data_dir, "test", limit=250, keep=True)
    for i in (0, 210, 5):
        kept.read(i)
    assert sorted(kept._batches) == [0, 200]  # keep=True: each batch simulated once


def test_synthetic_shapes_are_lazy_with_the_same_recordings():
    from eventsnn.datasets.synthetic import _SPLIT_OFFSET, draw_shape

    ds = SyntheticShapes("test", n_samples=220, seed=3)
    rng = np.random.default_rng([3, _SPLIT_OFFSET["test"]])
    labels = np.arange(220) % 10
    rng.shuffle(labels)
    images = np.stack([draw_shape(int(k), rng) for k in labels])
    expected = _eager(images, SaccadeSimulator(sensor_size=(34, 34, 2)), 3, _SPLIT_OFFSET["test"])
    assert ds.targets == labels.tolist()
    assert all(_same(ds[i][0], expected[i]) for i in (219, 0, 200, 17))


def test_a_pickled_simulated_dataset_carries_no_recordings_and_simulates_the_same(data_dir):
    import pickle

    ds = simulated_nmnist(data_dir, "test", limit=30)
    first = ds.read(7)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy._batches == {} and copy._images.dtype == np.uint8
    assert _same(copy.read(7), first)


def test_a_batch_part_holds_one_batch_of_images_and_simulates_the_same(data_dir):
    import pickle

    ds = simulated_nmnist(data_dir, "train", limit=450, seed=1)
    part = ds.batch_part(200)
    assert part._images.shape[0] == 200 and ds._images.shape[0] == 450  # the part: one batch of images
    for i in (399, 200, 317):
        assert _same(part.read(i), ds.read(i)), i
    sent = pickle.loads(pickle.dumps(part))  # what a worker process gets
    assert _same(sent.read(250), ds.read(250))
    last = ds.batch_part(400)
    assert last._images.shape[0] == 50 and _same(last.read(449), ds.read(449))
    for other in (0, 199, 400):
        with pytest.raises(IndexError, match="not in this part"):
            part.read(other)
    for start in (100, 600):
        with pytest.raises(IndexError, match=f"no batch starts at recording {start}"):
            ds.batch_part(start)


# ---------------------------------------------------------------- the compiled loop is exact
# The compiled simulator gives exactly the events of the plain numpy formulation.
#
# :class:`~eventsnn.datasets.simulator.SaccadeSimulator` computes the threshold crossings in a
# numba loop that skips pixels and logarithms which cannot give an event. Cached simulated sets and
# every result measured on simulated data rely on it giving the recordings the numpy formulation
# gave (eventsnn simulated with it before the numba loop), bit for bit: this section keeps that
# formulation as the reference and compares field by field.


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
