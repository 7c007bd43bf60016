"""Pure functions on event arrays: background-activity filter and position normalisation.

Both take and return :data:`eventsnn.events.EVENT_DTYPE` recordings (any structured dtype with
``x, y, t, p`` is converted by name first) and never modify their input.

- :func:`background_activity_filter`: keep an event only when a neighbouring pixel fired less
  than ``dt_us`` µs before it (the jAER / Delbruck background-activity filter). Causal: run over
  a whole recording, each event sees exactly the state a live filter would have; its decision
  never depends on later events, so filtering a recording once and then cutting windows equals
  filtering the stream live.
- :func:`normalize_position`: move the events of one window so that their median ``(x, y)`` is
  the sensor centre (``"center"``), for ``"scale"`` also so that their median distance to it is
  ``target_spread`` pixels, and for ``"rotate"`` also turn their principal axis horizontal;
  optionally followed by a random similarity (augmentation).
  Coordinates are rounded to pixels; events that leave the sensor are dropped.
"""

from __future__ import annotations

import numba
import numpy as np

from eventsnn.errors import InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize, normalize_events

__all__ = ["NORMALIZE_MODES", "Similarity", "background_activity_filter", "background_activity_mask", "check_normalize_params",
           "normalize_position"]

#: what :func:`normalize_position` does: nothing, re-centre, re-centre and re-scale, or re-centre,
#: re-scale and turn the principal axis horizontal
NORMALIZE_MODES = ("none", "center", "scale", "rotate")

#: a similarity applied after normalising: ``(scale, angle in radians, dx px, dy px, mirror x)``
Similarity = tuple[float, float, float, float, bool]

_NEVER = np.iinfo(np.int64).min // 4  # "no event yet" timestamp: older than any window


@numba.njit(cache=True, nogil=True)
def _support_mask(x, y, t, width, height, dt, eight):  # noqa: ANN001, ANN201 (numba types)
    last = np.full((height + 2, width + 2), _NEVER, np.int64)  # one pixel of border
    keep = np.zeros(len(t), np.bool_)
    for i in range(len(t)):
        xi = np.int64(x[i]) + 1
        yi = np.int64(y[i]) + 1
        ti = t[i]
        ok = False
        for dy in range(-1, 2):
            for dx in range(-1, 2):
                if (dx == 0 and dy == 0) or (not eight and dx != 0 and dy != 0):
                    continue
                if ti - last[yi + dy, xi + dx] < dt:
                    ok = True
        keep[i] = ok
        last[yi, xi] = ti
    return keep


def background_activity_mask(
    events: np.ndarray, sensor_size: SensorSize, dt_us: int, neighbours: int = 8
) -> np.ndarray:
    """Boolean ``[N]``: which events of a time-sorted recording have support.

    Event ``i`` has support when one of its ``neighbours`` (8: the 3x3 block around it, 4: the
    pixels left, right, above and below; never the pixel itself) fired an event ``j < i`` with
    ``t_i - t_j < dt_us``. Tonic's :func:`tonic.functional.denoise_numpy` is the 4-neighbour
    rule, except that it treats every pixel as having fired at ``t = 0`` (so it keeps the
    events of the first ``dt_us`` µs that have any neighbour on the sensor) and runs in Python
    (about 1 µs per event; this compiled loop: a few ns).

    Raises:
        InvalidParameterError: ``dt_us < 1``, ``neighbours`` not 4 or 8, or events not sorted
            in time (the filter's state would depend on the order of the array).
    """
    if isinstance(dt_us, bool) or int(dt_us) != dt_us or int(dt_us) < 1:
        raise InvalidParameterError(f"background-activity filter: dt_us must be an integer >= 1 µs, got {dt_us!r}")
    if neighbours not in (4, 8):
        raise InvalidParameterError(f"background-activity filter: neighbours must be 4 or 8, got {neighbours!r}")
    ev = normalize_events(events)
    t = ev["t"]
    if len(t) > 1 and np.any(t[1:] < t[:-1]):
        raise InvalidParameterError("background-activity filter: events must be sorted in time")
    w, h = int(sensor_size[0]), int(sensor_size[1])
    if len(ev) and (ev["x"].min() < 0 or ev["y"].min() < 0 or ev["x"].max() >= w or ev["y"].max() >= h):
        raise InvalidParameterError(f"background-activity filter: events off the {w}x{h} sensor")
    return _support_mask(ev["x"], ev["y"], np.ascontiguousarray(t), w, h, np.int64(dt_us), neighbours == 8)


def background_activity_filter(
    events: np.ndarray, sensor_size: SensorSize, dt_us: int, neighbours: int = 8
) -> np.ndarray:
    """The events with support (:func:`background_activity_mask`), a new array."""
    ev = normalize_events(events)
    return ev[background_activity_mask(ev, sensor_size, dt_us, neighbours)]


def check_normalize_params(mode: str, target_spread: float) -> None:
    """Raise InvalidParameterError unless ``mode`` is a normalisation mode and ``target_spread > 0``."""
    if mode not in NORMALIZE_MODES:
        raise InvalidParameterError(f"normalize: mode must be one of {NORMALIZE_MODES}, got {mode!r}")
    if not float(target_spread) > 0:
        raise InvalidParameterError(f"normalize: target_spread must be > 0 pixels, got {target_spread!r}")


@numba.njit(cache=True, nogil=True)
def _median_of_ints(v, size):  # noqa: ANN001, ANN201 (numba types)
    """Median (as numpy defines it) of integers in ``0..size-1``, by counting."""
    counts = np.zeros(size, np.int64)
    for a in v:
        counts[a] += 1
    n = len(v)
    lo_rank, hi_rank = (n - 1) // 2, n // 2
    lo = hi = -1
    seen = 0
    for value in range(size):
        seen += counts[value]
        if lo < 0 and seen > lo_rank:
            lo = value
        if seen > hi_rank:
            hi = value
            break
    return 0.5 * (lo + hi)


@numba.njit(cache=True, nogil=True)
def _principal_rotation(x, y, cx, cy, d, radius):  # noqa: ANN001, ANN201 (numba types)
    """``(cos, sin)`` of the rotation that turns the principal axis of the events closer than
    ``radius`` to ``(cx, cy)`` horizontal, the smaller way (by at most 90 degrees); no rotation
    when fewer than 3 events are that close or their spread has no direction."""
    m = 0
    mx = my = 0.0
    for i in range(len(x)):
        if d[i] < radius:
            m += 1
            mx += x[i] - cx
            my += y[i] - cy
    if m < 3:
        return 1.0, 0.0
    mx, my = mx / m, my / m
    sxx = syy = sxy = 0.0
    for i in range(len(x)):
        if d[i] < radius:
            u, v = x[i] - cx - mx, y[i] - cy - my
            sxx += u * u
            syy += v * v
            sxy += u * v
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # axis of the largest eigenvalue, in (-90, 90] deg
    return np.cos(-theta), np.sin(-theta)


@numba.njit(cache=True, nogil=True)
def _normalize_into(ev, out, w, h, mode, target, geom, scale, angle, sx, sy, mirror):  # noqa: ANN001, ANN201, PLR0913
    """Write the events of :func:`normalize_position` into ``out`` (``mode``: 0 none, 1 center,
    2 scale, 3 rotate); returns how many, or -1 when an event is off the sensor."""
    n = len(ev)
    x = np.empty(n, np.int64)
    y = np.empty(n, np.int64)
    for i in range(n):
        x[i], y[i] = ev[i].x, ev[i].y
        if x[i] < 0 or x[i] >= w or y[i] < 0 or y[i] >= h:
            return -1
    if mode == 0:
        cx, cy, ox, oy = (w - 1) / 2, (h - 1) / 2, (w - 1) / 2, (h - 1) / 2
    else:
        cx, cy, ox, oy = _median_of_ints(x, w), _median_of_ints(y, h), w / 2, h / 2
    s = 1.0
    rc, rs = 1.0, 0.0  # rotation to the principal axis (cos, sin)
    if mode >= 2:
        d = np.empty(n)
        for i in range(n):
            d[i] = np.sqrt((x[i] - cx) ** 2 + (y[i] - cy) ** 2)
        spread = np.median(d)
        if spread > 0:
            s = target / spread
        if mode == 3:
            rc, rs = _principal_rotation(x, y, cx, cy, d, 2 * spread)
    c, sn = np.cos(angle) * scale, np.sin(angle) * scale
    k = 0
    for i in range(n):
        dx, dy = (x[i] - cx) * s, (y[i] - cy) * s
        dx, dy = rc * dx - rs * dy, rs * dx + rc * dy
        if geom:
            if mirror:
                dx = -dx
            dx, dy = c * dx - sn * dy + sx, sn * dx + c * dy + sy
        nx, ny = np.rint(dx + ox), np.rint(dy + oy)
        if 0 <= nx < w and 0 <= ny < h:
            out[k].x, out[k].y, out[k].p, out[k].t = nx, ny, ev[i].p, ev[i].t
            k += 1
    return k


def normalize_position(
    events: np.ndarray,
    sensor_size: SensorSize,
    mode: str = "scale",
    target_spread: float = 16.0,
    similarity: Similarity | None = None,
) -> np.ndarray:
    """The events of one window, moved (and scaled) to the sensor centre; a new array.

    ``"center"``: shift by ``(W/2, H/2) - median(x, y)``. ``"scale"``: also scale about the
    centre by ``target_spread / median distance to the median`` (robust statistics: a few
    far-away noise events change neither). ``"rotate"``: also rotate about the centre so that
    the principal axis (of the covariance of the events within twice that median distance)
    becomes horizontal, by the smaller angle (at most 90 degrees either way): how the object is
    turned stops being a cue. ``"none"``: no change (but ``similarity`` still
    applies, about the sensor centre). ``similarity = (s, angle, dx, dy, mirror)``: after
    normalising, mirror x (if set), rotate by ``angle`` and scale by ``s`` about the centre,
    then shift by ``(dx, dy)`` pixels. New coordinates are rounded; events off the sensor are
    dropped. Fewer than 3 events are returned unchanged (no statistics to speak of). One
    compiled pass (medians of the integer coordinates by counting): about 20 ns per event.
    """
    check_normalize_params(mode, target_spread)
    ev = normalize_events(events)
    if len(ev) < 3 or (mode == "none" and similarity is None):
        return ev.copy()
    w, h = int(sensor_size[0]), int(sensor_size[1])
    scale, angle, sx, sy, mirror = similarity if similarity is not None else (1.0, 0.0, 0.0, 0.0, False)
    out = np.empty(len(ev), dtype=EVENT_DTYPE)
    n = _normalize_into(ev, out, w, h, NORMALIZE_MODES.index(mode), float(target_spread), similarity is not None,
                        float(scale), float(angle), float(sx), float(sy), bool(mirror))
    if n < 0:
        raise InvalidParameterError(f"normalize: events off the {w}x{h} sensor")
    return out[:n].copy() if n < len(out) else out
