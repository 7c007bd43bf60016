"""An event-camera simulator: static images moved in saccades in front of a DVS.

N-MNIST and CIFAR10-DVS were recorded by moving a static image (or the sensor) in small saccades
and letting a DVS report brightness changes. This module reproduces that process:

1. the image (grey levels in ``[0, 1]``) is placed at the centre of a screen of grey level
   ``background`` and translated along a closed triangular path of ``n_saccades`` straight
   saccades (N-MNIST's pattern) with bilinear interpolation, rendered every ``dt_us`` µs; each
   saccade moves at constant speed (``velocity="constant"``) or accelerates and brakes
   (``velocity="smooth"``: position ``(1 - cos(pi u)) / 2`` of the way at time fraction ``u``, so
   events bunch in the middle of each saccade as in the real N-MNIST recordings);
2. each pixel keeps a reference log intensity ``L_ref``; whenever ``log(I + eps)`` moves away
   from it by a multiple of the contrast threshold (``contrast_on`` / ``contrast_off``, with a
   per-pixel mismatch of relative std ``threshold_mismatch``), one ON or OFF event is emitted per
   threshold crossing, timed by linear interpolation between the two renders, and ``L_ref``
   moves by the thresholds crossed;
3. optional background noise events arrive at ``noise_rate_hz`` per pixel (Poisson).

The threshold-crossing loop is compiled with numba (:func:`_crossings`, one pass per image):
pixels whose neighbourhood on the screen is uniform along the whole path cannot cross a
threshold and are skipped, and the logarithm is taken only where a crossing is possible; the
arithmetic where it is taken is that of the plain numpy formulation (render the batch, ``log``,
compare with ``L_ref``), in the same order, so the recordings are the same bit for bit. Output
recordings use :data:`eventsnn.events.EVENT_DTYPE` (``t`` in µs, sorted; at equal ``t``:
simulated events in the order of their render step, ON before OFF, row-major pixel, then noise
events in the order drawn). The first simulation after installing (or changing) this module
compiles the loop, ≈ 8 CPU-s once; numba caches the compiled code on disk for later processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from eventsnn.errors import InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize

__all__ = ["SaccadeSimulator", "SIMULATOR_VERSION"]

#: Version of what the simulated datasets generate; raise it whenever this module or the
#: simulator settings of a simulated dataset (:mod:`eventsnn.datasets.synthetic`) change what is
#: simulated. Cached simulated sets (:mod:`eventsnn.train.cache`) are keyed by it (and by the
#: source of both modules).
SIMULATOR_VERSION = 1


@dataclass(frozen=True)
class SaccadeSimulator:
    """Saccade-driven DVS simulator.

    Args:
        sensor_size: ``(W, H, P)`` of the simulated sensor (``P`` = 2).
        duration_us: length of a recording in µs (all saccades).
        n_saccades: straight movements along a closed triangular path.
        amplitude: size of the path in pixels.
        dt_us: render interval in µs.
        contrast_on, contrast_off: log-intensity thresholds of ON / OFF events.
        threshold_mismatch: relative std of the per-pixel thresholds.
        noise_rate_hz: background noise events per pixel per second.
        eps: offset inside the logarithm, ``log(I + eps)``.
        corners: the path's corners ``((x0, y0), (x1, y1), ...)`` in pixels, visited in order and
            back to the first; ``None``: the triangle ``(0, 0), (a/2, a), (a, 0)`` of
            ``amplitude`` ``a``. The path is centred on the sensor either way.
        background: grey level of the screen around the image, in ``[0, 1]``.
        velocity: ``"constant"`` or ``"smooth"`` speed within each saccade.
    """

    sensor_size: SensorSize = (34, 34, 2)
    duration_us: int = 300_000
    n_saccades: int = 3
    amplitude: float = 3.0
    dt_us: int = 2_000
    contrast_on: float = 0.25
    contrast_off: float = 0.25
    threshold_mismatch: float = 0.05
    noise_rate_hz: float = 0.1
    eps: float = 0.1
    corners: tuple[tuple[float, float], ...] | None = None
    background: float = 0.0
    velocity: str = "constant"

    def __post_init__(self) -> None:
        if self.duration_us <= 0 or self.dt_us <= 0 or self.dt_us > self.duration_us:
            raise InvalidParameterError("need 0 < dt_us <= duration_us")
        if self.contrast_on <= 0 or self.contrast_off <= 0:
            raise InvalidParameterError("contrast thresholds must be > 0")
        if self.n_saccades < 1:
            raise InvalidParameterError("n_saccades must be >= 1")
        if self.corners is not None and (len(self.corners) < 2 or any(len(c) != 2 for c in self.corners)):
            raise InvalidParameterError(f"corners must be >= 2 (x, y) pairs, got {self.corners}")
        if not 0.0 <= self.background <= 1.0:
            raise InvalidParameterError(f"background must be in [0, 1], got {self.background}")
        if self.velocity not in ("constant", "smooth"):
            raise InvalidParameterError(f"velocity must be 'constant' or 'smooth', got {self.velocity!r}")

    def _corners(self) -> np.ndarray:
        """The path's corners ``[n, 2]`` in pixels (``corners``, or the ``amplitude`` triangle)."""
        if self.corners is None:
            a = self.amplitude
            return np.array([[0.0, 0.0], [a / 2, a], [a, 0.0]])
        return np.asarray(self.corners, dtype=np.float64)

    def path(self, t_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offset ``(dx, dy)`` in pixels of the image at times ``t_us``."""
        corners = self._corners()
        idx = np.arange(self.n_saccades + 1) % len(corners)
        pts = corners[idx]
        s = np.clip(np.asarray(t_us, dtype=np.float64) / self.duration_us, 0, 1) * self.n_saccades
        k = np.minimum(s.astype(int), self.n_saccades - 1)
        frac = (s - k)[..., None]
        if self.velocity == "smooth":
            frac = (1 - np.cos(np.pi * frac)) / 2
        xy = pts[k] * (1 - frac) + pts[k + 1] * frac
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        mid = (lo + hi) / 2
        return xy[..., 0] - mid[0], xy[..., 1] - mid[1]

    def _canvas(self, images: np.ndarray) -> np.ndarray:
        """Place ``[B, h, w]`` images at the sensor centre on a ``background`` canvas with margins."""
        w, h, _ = self.sensor_size
        b, ih, iw = images.shape
        if ih > h or iw > w:
            raise InvalidParameterError(f"images of {iw}x{ih} do not fit the {w}x{h} sensor")
        m = int(np.ceil(np.ptp(self._corners(), axis=0).max())) + 2
        canvas = np.full((b, h + 2 * m, w + 2 * m), self.background, dtype=np.float32)
        oy, ox = m + (h - ih) // 2, m + (w - iw) // 2
        canvas[:, oy : oy + ih, ox : ox + iw] = images
        return canvas

    def simulate(self, images: np.ndarray, seed: int | np.random.Generator = 0) -> list[np.ndarray]:
        """Simulate one recording per image.

        Args:
            images: ``[B, h, w]`` (or ``[h, w]``) grey levels in ``[0, 1]``; ``h <= H``, ``w <= W``.
            seed: seed or generator for threshold mismatch and noise.

        Returns:
            ``B`` recordings (a single array for a single ``[h, w]`` image).
        """
        single = np.ndim(images) == 2
        imgs = np.asarray(images, dtype=np.float32)
        if single:
            imgs = imgs[None]
        if imgs.ndim != 3:
            raise InvalidParameterError(f"images must be [B, h, w] or [h, w], got shape {imgs.shape}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        w, h, _ = self.sensor_size
        b = len(imgs)
        canvas = self._canvas(np.clip(imgs, 0.0, 1.0))
        c_on, c_off = self._thresholds(rng, b)
        times = np.arange(0, self.duration_us + 1, self.dt_us, dtype=np.int64)
        dxs, dys = self.path(times)
        ixs, iys = np.floor(dxs).astype(np.int64), np.floor(dys).astype(np.int64)
        m = (canvas.shape[1] - h) // 2
        xx, yy, tt, pp, starts = _crossings(canvas, m, h, w, ixs, iys, dxs - ixs, dys - iys, times,
                                            float(self.dt_us), c_on, c_off, float(self.eps))
        del canvas, c_on, c_off  # per-pixel state: not needed now
        noise = self._noise(rng, b)
        out = []
        for j in range(b):  # one recording at a time: no second copy of the batch's events
            s0, s1 = starts[j], starts[j + 1]
            nx, ny, nt, npol = (c[noise.bounds[j] : noise.bounds[j + 1]] for c in noise.columns)
            # noise after the simulated events at equal t (both already sorted by t)
            at = np.searchsorted(tt[s0:s1], nt, side="right") + np.arange(len(nt))
            sim = np.ones(s1 - s0 + len(nt), dtype=bool)
            sim[at] = False
            ev = np.empty(len(sim), dtype=EVENT_DTYPE)
            for field, simulated, drawn in (("x", xx, nx), ("y", yy, ny), ("t", tt, nt), ("p", pp, npol)):
                ev[field][sim] = simulated[s0:s1]
                ev[field][at] = drawn
            out.append(ev)
        return out[0] if single else out

    def _thresholds(self, rng: np.random.Generator, b: int) -> tuple[np.ndarray, np.ndarray]:
        """The per-pixel ON and OFF thresholds ``[B, H, W]`` (float32) of a batch of ``b``, with mismatch."""
        w, h, _ = self.sensor_size
        c_on = self.contrast_on * (1 + self.threshold_mismatch * rng.standard_normal((b, h, w)))
        c_off = self.contrast_off * (1 + self.threshold_mismatch * rng.standard_normal((b, h, w)))
        return (np.maximum(c_on, 0.01 * self.contrast_on).astype(np.float32),
                np.maximum(c_off, 0.01 * self.contrast_off).astype(np.float32))

    def _noise(self, rng: np.random.Generator, b: int) -> _Noise:
        """The background noise events of a batch of ``b``, sorted by image then ``t`` (stable)."""
        w, h, _ = self.sensor_size
        n_noise = rng.poisson(self.noise_rate_hz * self.duration_us * 1e-6 * b * h * w) if self.noise_rate_hz > 0 else 0
        bb, xx, yy = rng.integers(0, b, n_noise), rng.integers(0, w, n_noise), rng.integers(0, h, n_noise)
        tt, pp = rng.integers(0, self.duration_us, n_noise), rng.random(n_noise) < 0.5
        order = np.lexsort((tt, bb))
        return _Noise((xx[order], yy[order], tt[order], pp[order]), np.searchsorted(bb[order], np.arange(b + 1)))


@dataclass(frozen=True)
class _Noise:
    """Noise events of a batch: columns ``(x, y, t, on)``, those of image ``j`` at ``bounds[j]:bounds[j + 1]``."""

    columns: tuple[np.ndarray, ...]
    bounds: np.ndarray


@numba.njit(cache=True, nogil=True)
def _grown(a, n, cap):  # noqa: ANN001, ANN202 (numba types)
    """``a`` copied into a new array of ``cap`` elements (its first ``n`` are kept)."""
    out = np.empty(cap, a.dtype)
    out[:n] = a[:n]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _uniform(cv, wc, r0, r1, q0, q1):  # noqa: ANN001, ANN202 (numba types)
    """Whether the screen ``cv`` (rows of ``wc``) holds one value in rows ``r0..r1``, columns ``q0..q1``."""
    v = cv[r0 * wc + q0]
    for r in range(r0, r1 + 1):
        for q in range(q0, q1 + 1):
            if cv[r * wc + q] != v:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def _active_pixels(cv, wc, m, h, w, moves, c_on, c_off, px, py, base, con, coff, e_on, e_off):  # noqa: ANN001, ANN202
    """Fill the per-pixel arrays for the pixels whose screen neighbourhood is not uniform along
    the whole path (``moves = (iy_min, iy_max, ix_min, ix_max)``); returns how many there are."""
    iy_min, iy_max, ix_min, ix_max = moves
    n_act = 0
    for y in range(h):
        for x in range(w):
            r0, q0 = m - iy_max - 1 + y, m - ix_max - 1 + x
            if _uniform(cv, wc, r0, m - iy_min + y, q0, m - ix_min + x):
                continue
            px[n_act], py[n_act], base[n_act] = x, y, (m + y) * wc + (m + x)
            con[n_act], coff[n_act] = np.float64(c_on[y, x]), np.float64(c_off[y, x])
            e_on[n_act], e_off[n_act] = np.exp(con[n_act]), np.exp(-coff[n_act])
            n_act += 1
    return n_act


@numba.njit(cache=True, nogil=True, inline="always")
def _render(cv, wc, base, n_act, off, fx, fy, new, hi, lo, candidates, first):  # noqa: ANN001, ANN202
    """The active pixels' linear intensity at one render into ``new`` (bilinear, float64); the
    pixels outside ``(lo, hi)`` (where a crossing is possible) into ``candidates``, unless
    ``first``; returns how many."""
    gx, gy = 1 - fx, 1 - fy
    n_c = 0
    for a in range(n_act):
        p = base[a] + off
        val = gy * (gx * np.float64(cv[p]) + fx * np.float64(cv[p - 1])) + fy * (
            gx * np.float64(cv[p - wc]) + fx * np.float64(cv[p - wc - 1]))
        new[a] = val
        if not first and (val >= hi[a] or val <= lo[a]):
            candidates[n_c] = a
            n_c += 1
    return n_c


@numba.njit(cache=True, nogil=True)
def _grow_all(ox, oy, ot, op, n, need):  # noqa: ANN001, ANN202
    """The event columns copied into arrays of at least ``need`` elements (doubling), and that size."""
    cap = ox.shape[0]
    while need > cap:
        cap *= 2
    return _grown(ox, n, cap), _grown(oy, n, cap), _grown(ot, n, cap), _grown(op, n, cap), cap


@numba.njit(cache=True, nogil=True)
def _sort_step(ox, oy, ot, op, step_start, n):  # noqa: ANN001, ANN202
    """Stable insertion sort of events ``step_start:n`` by ``t`` (those of earlier steps have
    ``t <= times[i - 1] <=`` these, so the image's events stay sorted)."""
    for u in range(step_start + 1, n):
        tu, xu, yu, pu = ot[u], ox[u], oy[u], op[u]
        v = u - 1
        while v >= step_start and ot[v] > tu:
            ot[v + 1], ox[v + 1], oy[v + 1], op[v + 1] = ot[v], ox[v], oy[v], op[v]
            v -= 1
        ot[v + 1], ox[v + 1], oy[v + 1], op[v + 1] = tu, xu, yu, pu


#: the linear bounds are widened by a relative 1e-9, so that float rounding never hides a crossing
_BELOW, _ABOVE = 1.0 - 1e-9, 1.0 + 1e-9


@numba.njit(cache=True, nogil=True, inline="always")
def _first_render(n_act, new, eps, e_on, e_off, ref, log_prev, log_prev_ok, prev, e_ref, hi, lo):  # noqa: ANN001, ANN202
    """The state of the active pixels after the first render ``new``: ``L_ref`` = its log."""
    for a in range(n_act):
        ref[a] = log_prev[a] = np.log(new[a] + eps)
        log_prev_ok[a] = True
        prev[a] = new[a]
        e_ref[a] = new[a] + eps
        hi[a] = e_ref[a] * e_on[a] * _BELOW - eps
        lo[a] = e_ref[a] * e_off[a] * _ABOVE - eps


@numba.njit(cache=True, nogil=True, inline="always")
def _next_render(n_act, new, prev, log_new, log_new_ok, log_prev, log_prev_ok):  # noqa: ANN001, ANN202
    """This render becomes the previous one (its log where it was taken)."""
    for a in range(n_act):
        prev[a] = new[a]
        log_prev_ok[a] = log_new_ok[a]
        if log_new_ok[a]:
            log_prev[a] = log_new[a]
            log_new_ok[a] = False


@numba.njit(cache=True, nogil=True)
def _crossings(canvas, m, h, w, ixs, iys, fxs, fys, times, dt_us, c_on, c_off, eps):  # noqa: ANN001, ANN202 (numba types)
    """Threshold crossings of every image of ``canvas`` moved along the path.

    Args:
        canvas: float32 ``[B, H + 2m, W + 2m]``, the images on the screen (margin ``m`` px).
        m, h, w: the margin and the sensor's height and width.
        ixs, iys, fxs, fys: per render ``i``, the integer part (int64) and fraction (float64)
            of the image's offset in pixels.
        times: int64 ``[n]``, the render times in µs; ``dt_us`` the interval (float).
        c_on, c_off: float32 ``[B, H, W]`` per-pixel thresholds; ``eps`` the log offset.

    Returns:
        ``(x, y, t, on, starts)``: int16, int16, int64 (µs), bool columns; the events of image
        ``b`` are ``starts[b]:starts[b + 1]``, sorted by ``t`` and, at equal ``t``, by render step,
        ON before OFF, row-major pixel, crossing.

    What the plain numpy formulation computes for every pixel at every render (bilinear render
    in float64, ``log(I + eps)``, ``n = floor(±(L - L_ref) / c)`` crossings, each timed by linear
    interpolation of the log between the two renders) is computed here, with the same float64
    operations in the same order, only where it can give a crossing: pixels whose screen
    neighbourhood is uniform along the whole path are skipped (their intensity changes by float
    rounding only), and the log is taken only when the linear intensity leaves
    ``(exp(L_ref - c_off), exp(L_ref + c_on)) - eps`` widened by a relative 1e-9, inside which
    no threshold can be crossed.
    """
    nb, _, wc = canvas.shape
    cap = 1 << 16
    ox, oy = np.empty(cap, np.int16), np.empty(cap, np.int16)
    ot, op = np.empty(cap, np.int64), np.empty(cap, np.bool_)
    starts = np.zeros(nb + 1, np.int64)
    n = 0
    iy_min, iy_max, ix_min, ix_max = iys.min(), iys.max(), ixs.min(), ixs.max()
    offsets = -iys * wc - ixs  # of a pixel's screen position, per render
    npx = h * w
    # per active pixel: position, screen index, thresholds and exp(thresholds)
    px, py, base = np.empty(npx, np.int16), np.empty(npx, np.int16), np.empty(npx, np.int64)
    con, coff, e_on, e_off = np.empty(npx), np.empty(npx), np.empty(npx), np.empty(npx)
    # per active pixel: L_ref; linear intensity of the previous / this render; log of this render
    ref, prev, new, log_new = np.empty(npx), np.empty(npx), np.empty(npx), np.empty(npx)
    log_prev = np.empty(npx)  # log of the previous render, where known (log_prev_ok)
    log_prev_ok, log_new_ok = np.zeros(npx, np.bool_), np.zeros(npx, np.bool_)
    # ~exp(L_ref) and the linear bounds outside which a crossing is possible
    e_ref, hi, lo = np.empty(npx), np.empty(npx), np.empty(npx)
    candidates = np.empty(npx, np.int64)
    for b in range(nb):
        cv = canvas[b].ravel()
        n_act = _active_pixels(cv, wc, m, h, w, (iy_min, iy_max, ix_min, ix_max), c_on[b], c_off[b], px, py, base, con, coff, e_on, e_off)
        for i in range(times.shape[0]):
            n_c = _render(cv, wc, base, n_act, offsets[i], fxs[i], fys[i], new, hi, lo, candidates, i == 0)
            if i == 0:
                _first_render(n_act, new, eps, e_on, e_off, ref, log_prev, log_prev_ok, prev, e_ref, hi, lo)
                continue
            t_prev = np.float64(times[i - 1])
            step_start = n
            for j in range(n_c):
                a = candidates[j]
                log_new[a] = np.log(new[a] + eps)
                log_new_ok[a] = True
            for s in range(2):  # ON, then OFF
                sign = 1.0 if s == 0 else -1.0
                for j in range(n_c):
                    a = candidates[j]
                    c = con[a] if s == 0 else coff[a]
                    k_n = np.floor(sign * (log_new[a] - ref[a]) / c)
                    if not k_n >= 1:
                        continue
                    cnt = np.int64(k_n)
                    if n + cnt > cap:
                        ox, oy, ot, op, cap = _grow_all(ox, oy, ot, op, n, n + cnt)
                    if not log_prev_ok[a]:
                        log_prev[a] = np.log(prev[a] + eps)
                    lp = log_prev[a]
                    d = log_new[a] - lp
                    r = ref[a]
                    for k in range(1, cnt + 1):
                        frac = (r + (sign * k) * c - lp) / d if d != 0 else 1.0
                        ox[n], oy[n], op[n] = px[a], py[a], s == 0
                        ot[n] = np.int64(t_prev + min(max(frac, 0.0), 1.0) * dt_us)
                        n += 1
                    ref[a] = r + (sign * cnt) * c
                    f = e_on[a] if s == 0 else e_off[a]
                    e = e_ref[a]
                    for _ in range(cnt):
                        e *= f
                    e_ref[a] = e
                    hi[a] = e * e_on[a] * _BELOW - eps
                    lo[a] = e * e_off[a] * _ABOVE - eps
            _sort_step(ox, oy, ot, op, step_start, n)
            _next_render(n_act, new, prev, log_new, log_new_ok, log_prev, log_prev_ok)
        starts[b + 1] = n
    return ox[:n], oy[:n], ot[:n], op[:n], starts
