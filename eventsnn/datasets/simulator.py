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

Simulation is vectorised over a batch of images. Output recordings use
:data:`eventsnn.events.EVENT_DTYPE` (``t`` in µs, sorted).
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def _render(self, canvas: np.ndarray, dx: float, dy: float) -> np.ndarray:
        """The sensor's view ``[B, H, W]`` of the canvas shifted by ``(dx, dy)`` pixels."""
        w, h, _ = self.sensor_size
        m = (canvas.shape[1] - h) // 2
        ix, iy = int(np.floor(dx)), int(np.floor(dy))
        fx, fy = dx - ix, dy - iy
        y0, x0 = m - iy, m - ix

        def crop(oy: int, ox: int) -> np.ndarray:
            return canvas[:, y0 - oy : y0 - oy + h, x0 - ox : x0 - ox + w]

        return (
            (1 - fy) * ((1 - fx) * crop(0, 0) + fx * crop(0, 1))
            + fy * ((1 - fx) * crop(1, 0) + fx * crop(1, 1))
        )

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
        c_on = self.contrast_on * (1 + self.threshold_mismatch * rng.standard_normal((b, h, w)))
        c_off = self.contrast_off * (1 + self.threshold_mismatch * rng.standard_normal((b, h, w)))
        c_on = np.maximum(c_on, 0.01 * self.contrast_on).astype(np.float32)
        c_off = np.maximum(c_off, 0.01 * self.contrast_off).astype(np.float32)
        times = np.arange(0, self.duration_us + 1, self.dt_us, dtype=np.int64)
        dxs, dys = self.path(times)
        log_prev = np.log(self._render(canvas, dxs[0], dys[0]) + self.eps)
        ref = log_prev.copy()
        chunks: list[tuple[np.ndarray, ...]] = []
        for i in range(1, len(times)):
            log_new = np.log(self._render(canvas, dxs[i], dys[i]) + self.eps)
            delta = log_new - log_prev
            for sign, c in ((1, c_on), (-1, c_off)):
                n = np.floor(sign * (log_new - ref) / c).astype(np.int32)
                n = np.maximum(n, 0)
                if not n.any():
                    continue
                bb, yy, xx = np.nonzero(n)
                counts = n[bb, yy, xx]
                rep = np.repeat(np.arange(len(bb)), counts)
                k = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
                level = ref[bb, yy, xx][rep] + sign * k * c[bb, yy, xx][rep]
                d = delta[bb, yy, xx][rep]
                frac = np.where(d != 0, (level - log_prev[bb, yy, xx][rep]) / np.where(d != 0, d, 1), 1.0)
                t = times[i - 1] + np.clip(frac, 0.0, 1.0) * self.dt_us
                chunks.append(_compact(b, bb[rep], xx[rep], yy[rep], t, np.full(len(rep), sign > 0)))
                ref[bb, yy, xx] += sign * counts * c[bb, yy, xx]
            log_prev = log_new
        if self.noise_rate_hz > 0:
            lam = self.noise_rate_hz * self.duration_us * 1e-6 * b * h * w
            n_noise = rng.poisson(lam)
            chunks.append(
                _compact(
                    b,
                    rng.integers(0, b, n_noise),
                    rng.integers(0, w, n_noise),
                    rng.integers(0, h, n_noise),
                    rng.integers(0, self.duration_us, n_noise),
                    rng.random(n_noise) < 0.5,
                )
            )
        del canvas, c_on, c_off, ref, log_prev, log_new, delta  # per-pixel state: not needed now
        if not chunks:
            chunks.append(_compact(b, *[np.zeros(0, dtype=np.int64)] * 4, np.zeros(0, dtype=bool)))
        bb, xx, yy, tt, pp = (np.concatenate(c) for c in zip(*chunks, strict=True))
        del chunks  # the concatenated columns are all that is needed from here on
        order = np.lexsort((tt, bb))
        bounds = np.searchsorted(bb[order], np.arange(b + 1))
        out = []
        for j in range(b):  # one recording at a time: no second copy of the batch's events
            sel = order[bounds[j] : bounds[j + 1]]
            ev = np.empty(len(sel), dtype=EVENT_DTYPE)
            ev["x"], ev["y"], ev["t"], ev["p"] = xx[sel], yy[sel], tt[sel], pp[sel]
            out.append(ev)
        return out[0] if single else out


def _compact(b: int, bb: np.ndarray, xx: np.ndarray, yy: np.ndarray, tt: np.ndarray,
             pp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Event columns (index in a batch of ``b``, x, y, t in µs, ON) in the smallest types that
    hold them, so a batch's events take 14 bytes each while they are collected, not 33."""
    return (bb.astype(np.min_scalar_type(max(b - 1, 0))), xx.astype(np.int16), yy.astype(np.int16),
            tt.astype(np.int64), pp.astype(bool))
