"""The per-event loop of STC, compiled with numba (see :mod:`eventsnn.functional.stc`).

One pass over a recording's records: each event is checked against the sensor, given its
pixel, polarity plane and time bin, and its weight is added to the flat output. Nothing here
allocates; :func:`eventsnn.functional.stc.stc_numpy` prepares the arguments and turns the
return codes into exceptions.
"""

from __future__ import annotations

import numba
import numpy as np

#: indices of the packed integer parameters (``params`` argument of :func:`count_events`)
W, H, N_POL, FACTOR, W_OUT, PLANE, N_FRAME, USE_P, N_BINS, BINS_PER_STEP, WINDOWED = range(11)
N_PARAMS = 11

#: return codes of :func:`count_events` besides ``-1`` (done) and an event index (off the sensor)
UNSORTED = -2  # default window, an event before t[0] or after t[-1]: redo with min(t) .. max(t)
TOO_LONG = -3  # default window, ``duration * n_bins`` would overflow int64: same remedy


@numba.njit(cache=True, nogil=True, error_model="numpy")
def count_events(events, out, starts, weights, params):  # noqa: ANN001, ANN201 (numba types)
    """Add the events of one recording to the flat float32 frames ``out`` (``[T * P' * H' * W']``).

    Args:
        events: 1-D :data:`eventsnn.events.EVENT_DTYPE` records.
        out: flat float32 output, zeroed by the caller.
        starts: int64 ``[n_bins + 1]``: first timestamp (µs) of each fine bin, then the window's
            end. Read when ``params[WINDOWED]`` is set; otherwise filled here with the bins of
            the default window ``[t[0], t[-1] + 1)`` (exact integer arithmetic, as
            :func:`eventsnn.functional.stc._bin_starts`).
        weights: float32 ``[n_bins]``: the weight of an event in each fine bin.
        params: int64 ``[N_PARAMS]``, see the module constants.

    Returns:
        ``-1`` when every event was added; the index of the first event off the sensor (or
        with a polarity outside ``0..P-1``); :data:`UNSORTED` or :data:`TOO_LONG` (default
        window only; ``out`` is then partly filled and must be zeroed before a retry).

    The loop is compiled once per combination of the flags that change its body (polarity
    channel, spatial down-sampling, time bins): tests on loop-invariant flags
    inside the per-event loop cost as much as the rest of its work.
    """
    if len(events) == 0:
        return -1
    if params[N_BINS] > 1 and params[WINDOWED] == 0:
        code = _default_window_starts(events, starts, params[N_BINS])
        if code != 0:
            return code
    return _dispatch(events, out, starts, weights, params)


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _default_window_starts(events, starts, n_bins):  # noqa: ANN001, ANN201 (numba types)
    """Fill ``starts`` with the ``n_bins`` fine bins of the default window ``[t[0], t[-1] + 1)``
    and return 0, or :data:`UNSORTED` / :data:`TOO_LONG` when that window cannot be used."""
    t0 = np.int64(events[0].t)
    dur = np.int64(events[len(events) - 1].t) + 1 - t0
    if dur < 1:
        return UNSORTED
    if dur > (np.int64(1) << 62) // n_bins:
        return TOO_LONG
    for k in range(n_bins + 1):
        starts[k] = t0 + (k * dur + n_bins - 1) // n_bins
    return 0


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _dispatch(events, out, starts, weights, params):  # noqa: ANN001, ANN201 (numba types)
    """Call the :func:`_loop` compiled for this call's flags (polarity channel, spatial
    down-sampling, time bins) and return its code."""
    n_bins = params[N_BINS]
    windowed = params[WINDOWED] != 0
    use_p = params[USE_P] != 0
    pooled = params[FACTOR] != 1
    timed = n_bins > 1 or windowed
    if use_p:
        if pooled:
            if timed:
                return _loop(events, out, starts, weights, params, True, True, True)
            return _loop(events, out, starts, weights, params, True, True, False)
        if timed:
            return _loop(events, out, starts, weights, params, True, False, True)
        return _loop(events, out, starts, weights, params, True, False, False)
    if pooled:
        if timed:
            return _loop(events, out, starts, weights, params, False, True, True)
        return _loop(events, out, starts, weights, params, False, True, False)
    if timed:
        return _loop(events, out, starts, weights, params, False, False, True)
    return _loop(events, out, starts, weights, params, False, False, False)


@numba.njit(inline="always", nogil=True, error_model="numpy")
def _loop(events, out, starts, weights, params, use_p, pooled, timed):  # noqa: ANN001, ANN201, PLR0913
    """The per-event loop of :func:`count_events`; the flags are constants at every call site.

    With the default window (``[t[0], t[-1] + 1)``) events need not be sorted: one outside it
    means ``t[0]`` or ``t[-1]`` is not the extreme, and the caller retries with the window of
    ``min(t)`` .. ``max(t)``; inside the window, any order bins the same.
    """
    w = params[W]
    h = params[H]
    n_pol = params[N_POL]
    f = params[FACTOR]
    w_out = params[W_OUT]
    plane = params[PLANE]
    n_frame = params[N_FRAME]
    n_bins = params[N_BINS]
    per_step = params[BINS_PER_STEP]
    first = starts[0]
    last = starts[n_bins]
    lo = starts[0]
    hi = starts[1]
    windowed = params[WINDOWED] != 0
    offset = 0
    wt = weights[0]
    for i in range(len(events)):
        e = events[i]
        xi = np.int64(e.x)
        yi = np.int64(e.y)
        if xi < 0 or xi >= w or yi < 0 or yi >= h:
            return i
        if pooled:
            k = (yi // f) * w_out + xi // f
        else:
            k = yi * w_out + xi
        if use_p:
            pi = np.int64(e.p)
            if pi < 0 or pi >= n_pol:
                return i
            k += pi * plane
        if timed:
            ti = np.int64(e.t)
            if ti >= hi or ti < lo:  # another fine bin: on sorted events, rarely
                if ti < first or ti >= last:
                    if windowed:
                        continue
                    return UNSORTED
                b = np.searchsorted(starts, ti, side="right") - 1
                lo = starts[b]
                hi = starts[b + 1]
                offset = (b // per_step) * n_frame
                wt = weights[b]
        out[np.uint64(k + offset)] += wt
    return -1
