"""Spatio-temporal compression (STC): events -> a few frames of synaptic current.

Reconstruction of Xu et al. (2022), see ``papers.md`` §1.4a. A recording spanning the window
``[t_start, t_end)`` (µs; default: its first event to its last event inclusive) is cut into
``N_f = T * ratio`` equal fine bins; event ``i`` falls in fine bin
``floor((t_i - t_start) * N_f / (t_end - t_start))``. Every ``ratio`` consecutive fine frames ``F``
are then compressed into one output frame:

- ``mode="sum"``: ``X[t] = sum_k F[t*ratio + k]`` (an exact event count);
- ``mode="exp"``: ``X[t] = sum_k decay**(ratio-1-k) * F[t*ratio + k]``, i.e. the synaptic
  current ``I <- decay*I + F`` run over the fine frames of one output step and read at its end;
  with ``carry=True`` the current is not reset between output steps
  (``X[t] += decay**ratio * X[t-1]``).

Spatially, coordinates are divided by ``spatial_factor`` (sum pooling, so no event is lost), and
``merge_polarity`` folds ON and OFF into one channel. Events need not be sorted in time.

Unlike Tonic's ``ToFrame`` every event inside the window is counted exactly once (the last event is
not dropped at the bin edge), counts accumulate in float32 (no int16 overflow; exact up to
``2**24`` = 16,777,216 events per pixel and frame, the largest integer float32 holds), and an
empty recording gives zero frames of the same shape and dtype as any other.

Shapes: one recording -> ``[T, P', H', W']``; a batch of ``B`` recordings -> ``[B, T, P', H', W']``
with ``P' = 1 if merge_polarity else P``, ``H' = ceil(H / spatial_factor)``,
``W' = ceil(W / spatial_factor)``; dtype float32.

The per-event work runs in one compiled loop (numba, :mod:`eventsnn.functional._stc_kernel`):
each event record is read once and checked, binned and added in the same pass, so a 4,000-event
N-MNIST recording costs ~2 ns per event plus ~1.5 µs per call (``benchmarks/bench_stc.py``
measures it against Tonic's ``ToFrame``, which spends ~50 ns per event). On time-sorted events
a fine bin changes only ``N_f`` times per recording, so the bin of an event is a comparison,
not a division; an event out of order is binned by a binary search over the bin starts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch

from eventsnn._deprecation import renamed_keyword
from eventsnn.errors import EventCoordinateError, EventFormatError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize, normalize_events
from eventsnn.functional import _stc_kernel as kernel

Mode = Literal["sum", "exp"]

__all__ = [
    "stc_numpy",
    "stc_numpy_batch",
    "stc_torch",
    "fixed_window_frames",
    "stc_output_shape",
    "check_stc_params",
]

#: every public function here takes the number of time steps as ``T``; the keyword
#: ``n_time_steps=`` still works for one release, with a DeprecationWarning
_T_KEYWORD = renamed_keyword("n_time_steps", "T")


@_T_KEYWORD
def check_stc_params(
    sensor_size: SensorSize,
    T: int,
    ratio: int = 1,
    mode: str = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
) -> None:
    """Raise :class:`InvalidParameterError` naming the first invalid STC argument."""
    if len(sensor_size) != 3 or any(int(s) != s or s < 1 for s in sensor_size):
        raise InvalidParameterError(f"sensor_size must be (W, H, P) of positive ints, got {sensor_size}")
    for name, val in (("T", T), ("ratio", ratio), ("spatial_factor", spatial_factor)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InvalidParameterError(f"{name} must be an integer >= 1, got {val!r}")
    if mode not in ("sum", "exp"):
        raise InvalidParameterError(f"mode must be 'sum' or 'exp', got {mode!r}")
    if not (0.0 < float(decay) <= 1.0):
        raise InvalidParameterError(f"decay must be in (0, 1], got {decay!r}")


@_T_KEYWORD
def stc_output_shape(
    sensor_size: SensorSize, T: int, spatial_factor: int = 1, merge_polarity: bool = False
) -> tuple[int, int, int, int]:
    """Shape ``(T, P', H', W')`` of the frames of one recording."""
    w, h, p = sensor_size
    f = spatial_factor
    return (T, 1 if merge_polarity else p, -(-h // f), -(-w // f))


class _Plan(NamedTuple):
    """Everything derived from one set of STC parameters (see :func:`_plan`); read-only."""

    shape: tuple[int, int, int, int]  # (T, P', H', W') of one recording
    n_frame: int  # P' * H' * W'
    n_bins: int  # fine time bins: T * ratio in exp mode, T in sum mode (ratio changes nothing)
    w: int
    h: int
    n_pol: int
    use_p: bool  # polarity selects the channel (P > 1 and not merged)
    weights: np.ndarray  # float32 [n_bins]: weight of an event in each fine bin
    params: np.ndarray  # int64 [kernel.N_PARAMS], default window (kernel.WINDOWED = 0)
    params_windowed: np.ndarray  # the same with kernel.WINDOWED = 1


@functools.lru_cache(maxsize=128, typed=True)
def _cached_plan(
    sensor_size: tuple, T: int, ratio: int, mode: str, decay: float, f: int, merge: bool
) -> _Plan:
    check_stc_params(sensor_size, T, ratio, mode, decay, f)
    w, h, n_pol = (int(s) for s in sensor_size)
    shape = stc_output_shape((w, h, n_pol), int(T), int(f), bool(merge))
    n_frame = shape[1] * shape[2] * shape[3]
    n_bins = int(T) * (int(ratio) if mode == "exp" else 1)
    if mode == "exp":  # fine bin k of an output step weighs decay ** (ratio - 1 - k)
        weights = (decay ** (ratio - 1 - np.arange(n_bins) % ratio)).astype(np.float32)
    else:
        weights = np.ones(n_bins, np.float32)
    use_p = not merge and n_pol > 1
    params = np.zeros(kernel.N_PARAMS, np.int64)
    params[[kernel.W, kernel.H, kernel.N_POL, kernel.FACTOR, kernel.W_OUT]] = w, h, n_pol, f, shape[3]
    params[[kernel.PLANE, kernel.N_FRAME, kernel.USE_P]] = shape[2] * shape[3], n_frame, use_p
    params[[kernel.N_BINS, kernel.BINS_PER_STEP]] = n_bins, n_bins // T
    windowed = params.copy()
    windowed[kernel.WINDOWED] = 1
    for a in (weights, params, windowed):
        a.flags.writeable = False
    return _Plan(shape, n_frame, n_bins, w, h, n_pol, use_p, weights, params, windowed)


def _plan(sensor_size, T, ratio, mode, decay, spatial_factor, merge_polarity) -> _Plan:
    """The checked :class:`_Plan` of a parameter set (cached; raises InvalidParameterError)."""
    try:
        return _cached_plan(
            tuple(sensor_size), T, ratio, mode, decay, spatial_factor, merge_polarity
        )
    except TypeError:  # an unhashable argument: check it without the cache
        check_stc_params(sensor_size, T, ratio, mode, decay, spatial_factor)
        return _cached_plan.__wrapped__(
            tuple(sensor_size), T, ratio, mode, decay, spatial_factor, merge_polarity
        )


def _contiguous_events(events: np.ndarray, name: str) -> np.ndarray:
    """``events`` as a C-contiguous :data:`EVENT_DTYPE` array (no copy when it already is one)."""
    if not (isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE and events.ndim == 1):
        events = normalize_events(events, name)
    return np.ascontiguousarray(events)


def _bin_starts(t0: int, t1: int, n_bins: int) -> list[int]:
    """First timestamp (µs) of each of ``n_bins`` equal bins of ``[t0, t1)``, then ``t1``.

    Event time ``t`` is in bin ``k = floor((t - t0) * n_bins / (t1 - t0))`` exactly when
    ``t >= t0 + ceil(k * (t1 - t0) / n_bins)``; Python integers, so no overflow.
    """
    dur = t1 - t0
    return [t0 + (k * dur + n_bins - 1) // n_bins for k in range(n_bins + 1)]


def _coordinate_error(ev: np.ndarray, plan: _Plan, name: str) -> EventCoordinateError | None:
    """The error naming the first field of ``ev`` off the sensor, or None if all are on it."""
    columns = [ev["x"], ev["y"]] + ([ev["p"]] if plan.use_p else [])
    return _range_error(columns, (plan.w, plan.h, plan.n_pol), f"{name}: ")


def _range_error(columns: Sequence, sensor_size: SensorSize, prefix: str = "") -> EventCoordinateError | None:
    """The error naming the first of the columns ``x, y[, p]`` (numpy arrays or torch tensors)
    with a value off the ``(W, H, P)`` sensor, or None if all are on it."""
    w, h, n_pol = sensor_size
    for col, fld, lim in zip(columns, ("x", "y", "p"), (w, h, n_pol), strict=False):
        lo, hi = int(col.min()), int(col.max())
        if lo < 0 or hi >= lim:
            if fld == "p":
                return EventCoordinateError(f"{prefix}polarity ranges over [{lo}, {hi}], expected 0..{lim - 1}")
            return EventCoordinateError(
                f"{prefix}{fld} ranges over [{lo}, {hi}], outside the {w}x{h} sensor (valid {fld}: 0..{lim - 1})"
            )
    return None


def _add_recording(
    out: np.ndarray, ev: np.ndarray, plan: _Plan, t_start: int | None, t_end: int | None, name: str
) -> None:
    """Add the frames of one recording (contiguous :data:`EVENT_DTYPE`) to the zeroed flat ``out``.

    The window is ``[t_start, t_end)`` when either is given (a missing end is taken from the
    events), else the recording's first to last event. When the kernel finds an event before
    the first or after the last (unsorted events), or a time span too long for int64 bin
    arithmetic, the window is taken from ``min(t)`` and ``max(t)`` instead, with exact
    Python-integer bin starts, and the recording is counted again.
    """
    if not len(ev):
        return
    starts = np.empty(plan.n_bins + 1, np.int64)
    params = plan.params
    if t_start is not None or t_end is not None:
        t = ev["t"]
        t0 = int(t.min()) if t_start is None else int(t_start)
        t1 = int(t.max()) + 1 if t_end is None else int(t_end)
        if t1 <= t0:
            raise InvalidParameterError(f"{name}: empty time window [{t0}, {t1}) µs")
        starts[:] = _bin_starts(t0, t1, plan.n_bins)
        params = plan.params_windowed
    code = kernel.count_events(ev, out, starts, plan.weights, params)
    if code in (kernel.UNSORTED, kernel.TOO_LONG):
        out[:] = 0
        t = ev["t"]
        starts[:] = _bin_starts(int(t.min()), int(t.max()) + 1, plan.n_bins)
        code = kernel.count_events(ev, out, starts, plan.weights, plan.params_windowed)
    if code >= 0:
        raise _coordinate_error(ev, plan, name) or AssertionError(f"{name}: event {code} rejected")


def _carry(out: np.ndarray | torch.Tensor, decay: float, ratio: int) -> None:
    """``exp`` mode with ``carry``: ``X[t] += decay**ratio * X[t-1]`` along axis ``-2``, in place
    (a float32 numpy array or torch tensor)."""
    lam = np.float32(decay**ratio) if isinstance(out, np.ndarray) else decay**ratio
    for i in range(1, out.shape[-2]):
        out[..., i, :] += lam * out[..., i - 1, :]


@_T_KEYWORD
def stc_numpy(
    events: np.ndarray,
    sensor_size: SensorSize,
    T: int,
    ratio: int = 1,
    mode: Mode = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
    merge_polarity: bool = False,
    carry: bool = False,
    t_start: int | None = None,
    t_end: int | None = None,
    name: str = "events",
) -> np.ndarray:
    """Compress one recording into ``[T, P', H', W']`` float32 frames.

    Args:
        events: structured array with fields ``x, y, t, p`` (``t`` in µs), any field dtypes
            (Tonic's included); need not be sorted in time.
        sensor_size: ``(W, H, P)``.
        T: the number of output frames (time steps, >= 1).
        ratio: compression ratio ``CR = N_f / T`` (fine frames per output frame).
        mode: ``"sum"`` (exact counts) or ``"exp"`` (decaying synaptic current).
        decay: ``λ`` of the ``exp`` mode, in ``(0, 1]``.
        spatial_factor: integer down-sampling factor of x and y (sum pooling).
        merge_polarity: fold ON/OFF into one channel.
        carry: ``exp`` mode only; keep the current across output steps.
        t_start, t_end: the window ``[t_start, t_end)`` in µs (default: first event to last
            event inclusive). Events outside it are left out.
        name: used in error messages.

    Returns:
        float32 array of shape :func:`stc_output_shape`.

    Raises:
        InvalidParameterError: a bad parameter, or an empty window (``t_end <= t_start``).
        EventFormatError: ``events`` is not a structured array with ``x, y, t, p``.
        EventCoordinateError: an event off the sensor or a polarity outside ``0..P-1``.
    """
    plan = _plan(sensor_size, T, ratio, mode, decay, spatial_factor, merge_polarity)
    out = np.zeros(plan.shape, np.float32)
    _add_recording(out.reshape(-1), _contiguous_events(events, name), plan, t_start, t_end, name)
    if mode == "exp" and carry:
        _carry(out.reshape(T, plan.n_frame), decay, ratio)
    return out


@_T_KEYWORD
def stc_numpy_batch(
    recordings: Sequence[np.ndarray],
    sensor_size: SensorSize,
    T: int,
    ratio: int = 1,
    mode: Mode = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
    merge_polarity: bool = False,
    carry: bool = False,
) -> np.ndarray:
    """Compress ``B`` recordings into ``[B, T, P', H', W']`` float32 frames.

    Each recording gets its own window (its first to its last event), exactly as
    :func:`stc_numpy` would give it; parameters are checked once and each recording is counted
    straight into its slot of the output. Error messages name the recording's index
    (``"recording i"``).
    """
    plan = _plan(sensor_size, T, ratio, mode, decay, spatial_factor, merge_polarity)
    # zeroed slot by slot, just before its recording is counted, so that the slot is still in
    # the cache while it is counted (zeroing the whole batch first would evict it)
    out = np.empty((len(recordings), *plan.shape), np.float32)
    flat = out.reshape(len(recordings), T * plan.n_frame)
    for i, rec in enumerate(recordings):
        name = f"recording {i}"
        flat[i] = 0
        _add_recording(flat[i], _contiguous_events(rec, name), plan, None, None, name)
    if mode == "exp" and carry:
        _carry(out.reshape(len(recordings), T, plan.n_frame), decay, ratio)
    return out


def fixed_window_frames(
    events: np.ndarray,
    sensor_size: SensorSize,
    step_us: int,
    n_steps: int,
    ratio: int = 1,
    mode: Mode = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
    merge_polarity: bool = False,
    carry: bool = False,
    t0: int | None = None,
) -> np.ndarray:
    """Compress one recording on ``n_steps`` windows of fixed duration: ``[n_steps, P', H', W']``.

    Step ``k`` covers ``[t0 + k*step_us, t0 + (k+1)*step_us)`` µs, ``t0`` being the first event's
    timestamp (or as given); events after ``t0 + n_steps*step_us`` are left out. These are the
    windows of streaming inference (:mod:`eventsnn.bench.streaming`): :func:`stc_numpy` with
    ``T = n_steps`` and the window ``[t0, t0 + n_steps*step_us)``, whose bin edges are exactly
    the step edges (also for the fine bins of ``mode="exp"`` and for ``carry``). Other
    arguments as in :func:`stc_numpy`; an empty recording gives zero frames.
    """
    ev = normalize_events(events)
    if len(ev) == 0:
        return np.zeros(stc_output_shape(tuple(sensor_size), n_steps, spatial_factor, merge_polarity), np.float32)
    start = int(ev["t"].min()) if t0 is None else int(t0)
    return stc_numpy(
        ev, tuple(sensor_size), int(n_steps), ratio, mode, decay, spatial_factor, merge_polarity, carry,
        t_start=start, t_end=start + int(n_steps) * int(step_us),
    )


@_T_KEYWORD
def stc_torch(
    x: torch.Tensor,
    y: torch.Tensor,
    t: torch.Tensor,
    p: torch.Tensor,
    sensor_size: SensorSize,
    T: int,
    ratio: int = 1,
    mode: Mode = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
    merge_polarity: bool = False,
    carry: bool = False,
    sample: torch.Tensor | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """STC on the device of its inputs (CPU or CUDA).

    Args:
        x, y, t, p: 1-D integer tensors of equal length (``t`` in µs), e.g. from
            :func:`eventsnn.transforms.events_to_tensors`; need not be sorted.
        sample: optional 1-D integer tensor giving each event's recording in
            ``0..batch_size-1``; without it all events are one recording.
        batch_size: number of recordings when ``sample`` is given (default ``sample.max()+1``).
        Other arguments as in :func:`stc_numpy` (window: each recording's first to last event).

    Returns:
        ``[T, P', H', W']`` without ``sample``, else ``[B, T, P', H', W']``; float32 on the
        inputs' device. Matches :func:`stc_numpy` / :func:`stc_numpy_batch` exactly in ``sum``
        mode (same bins: ``floor((t - t0) * N_f / (t1 - t0))`` computed in int64).
    """
    plan = _plan(sensor_size, T, ratio, mode, decay, spatial_factor, merge_polarity)
    if not (x.shape == y.shape == t.shape == p.shape) or x.dim() != 1:
        raise EventFormatError(
            f"x, y, t, p must be 1-D tensors of one length, got {tuple(x.shape)}, "
            f"{tuple(y.shape)}, {tuple(t.shape)}, {tuple(p.shape)}"
        )
    shape, n_frame, n_bins = plan.shape, plan.n_frame, plan.n_bins
    dev = t.device
    single = sample is None
    if single:
        b = 1
        sample = torch.zeros_like(t, dtype=torch.long)
    else:
        sample = sample.long()
        b = int(batch_size) if batch_size is not None else (int(sample.max()) + 1 if len(sample) else 0)
    if len(t) == 0:
        out = torch.zeros((b, *shape), dtype=torch.float32, device=dev)
        return out[0] if single else out
    x, y, t, p = x.long(), y.long(), t.long(), p.long()
    error = _range_error([x, y, p] if plan.use_p else [x, y], (plan.w, plan.h, plan.n_pol))
    if error is not None:
        raise error
    sp = (y // spatial_factor) * shape[3] + (x // spatial_factor)
    if plan.use_p:
        sp = sp + p * (shape[2] * shape[3])
    big = torch.iinfo(torch.int64).max
    t0 = torch.full((b,), big, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amin")
    t1 = torch.full((b,), -1, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amax") + 1
    fine = torch.div((t - t0[sample]) * n_bins, (t1 - t0)[sample], rounding_mode="floor")
    step = torch.div(fine, n_bins // T, rounding_mode="floor")
    flat = (sample * T + step) * n_frame + sp
    if mode == "sum":
        src = torch.ones(1, device=dev).expand(len(flat))
    else:
        src = torch.pow(
            torch.tensor(decay, dtype=torch.float64, device=dev), (ratio - 1 - fine % ratio).double()
        ).float()
    out = torch.zeros(b * T * n_frame, dtype=torch.float32, device=dev)
    out.index_add_(0, flat, src)
    out = out.reshape(b, T, n_frame)
    if mode == "exp" and carry:
        _carry(out, decay, ratio)
    out = out.reshape(b, *shape)
    return out[0] if single else out
