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

Where the numpy path's time goes (``benchmarks/bench_stc.py`` measures it against Tonic's
``ToFrame``, which spends ~50 ns per event). An N-MNIST recording has only ~4,000 events, so each
numpy call on the hot path (0.4-1 µs, more on a loaded machine) weighs as much as a pass over
all its events; the design therefore counts calls as much as passes:

- the event records (16 bytes) are read from memory once: per block of up to :data:`_BLOCK`
  events, one strided copy takes ``x | y << 16`` as a ``uint32`` word and one takes ``p``
  (widened to ``uint32`` on the way: a mixed ``uint8 * uint32`` multiply later costs several
  times more); everything after that runs on small contiguous arrays that stay in the cache,
  and the timestamps, when needed, are read while the block is still cached;
- coordinates are checked with two calls (an add and one bitwise-OR reduction, see
  :func:`_count_block`) instead of extracting ``x`` and ``y`` and taking their maxima; the
  message naming the field and its range is built only on failure;
- the pixel index is ``u - (2**16 - W) * (u >> 16)`` for ``u = x | y << 16`` (three calls), plus
  ``p * H * W``; indices are ``int64`` because ``np.add.at`` has a fast path for them (~1 ns
  per event, ~1.4 ns with ``int32``); ``np.bincount`` is no faster and would need a conversion
  of its int64 counts;
- ``T == 1`` needs no timestamps at all (and a polarity ``>= P`` shows as an index past the
  single frame, which ``np.add.at`` reports, so it needs no check of its own); with time bins,
  sorted events make each bin a slice found by ``np.searchsorted`` (checking sortedness is one
  pass over ``t``; no per-event division), and each step's frame offset is added slice by slice
  (``T <= 4``) or as one ``np.repeat``-built array;
- the parameters are checked and turned into a :class:`_Plan` once per distinct parameter set
  (``functools.lru_cache``), and the work arrays are reused from call to call
  (:class:`_Scratch`);
- :func:`stc_numpy_batch` processes several small recordings as one block (:func:`_add_group`):
  per recording only its strided copies (and, with time bins, one shifted copy of ``t``) remain;
  the checks, the index arithmetic, one sortedness check, one ``np.searchsorted`` and the
  counting run once per block.

What remains for a 4,000-event recording at ``T = 1`` (~27 µs on the shared benchmark machine):
the first read of the records from memory (~7 µs), ``np.add.at`` (~5 µs), ~12 numpy calls
(~1 µs each) and Python glue; ``T > 1`` adds the sortedness pass, ``np.searchsorted`` and the
offsets (~10 µs). A batch adds the page faults of its one large, fresh output array.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch

from eventsnn.errors import EventCoordinateError, EventFormatError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize, normalize_events

Mode = Literal["sum", "exp"]

__all__ = ["stc_numpy", "stc_numpy_batch", "stc_torch", "stc_output_shape", "check_stc_params"]

_SCRATCH_LIMIT = 1 << 24  # bytes: larger work arrays are not kept between calls

_BLOCK = 1 << 15  # events per vectorised block: its work arrays stay in the L2 cache

# The fast path reads x and y as one little-endian 32-bit word at offset 0 (x in the low half);
# p is read as a byte at its offset in any layout.
_ITEM = EVENT_DTYPE.itemsize
_P_OFFSET = EVENT_DTYPE.fields["p"][1]
_FAST_LAYOUT = (
    sys.byteorder == "little"
    and EVENT_DTYPE.fields["x"][1] == 0
    and EVENT_DTYPE.fields["y"][1] == 2
    and _ITEM % 4 == 0
)


class _Scratch(threading.local):
    """Per-thread work arrays, reused from call to call.

    On first touch fresh memory costs a page fault per 4 KiB, several times the cost of writing
    it, and the per-event temporaries (~30 bytes per event) would otherwise be fresh at every
    call. Nothing returned to the caller ever lives in these arrays.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, key: str, n: int, dtype: type) -> np.ndarray:
        """A work array of ``n`` elements (contents undefined)."""
        a = self.arrays.get(key)
        if a is None or len(a) < n:
            a = np.empty(max(n, 5 * (0 if a is None else len(a)) // 4), dtype)
            if a.nbytes <= _SCRATCH_LIMIT:
                self.arrays[key] = a
        return a[:n]


_scratch = _Scratch()


def check_stc_params(
    sensor_size: SensorSize,
    n_time_steps: int,
    ratio: int = 1,
    mode: str = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
) -> None:
    """Raise :class:`InvalidParameterError` naming the first invalid STC argument."""
    if len(sensor_size) != 3 or any(int(s) != s or s < 1 for s in sensor_size):
        raise InvalidParameterError(f"sensor_size must be (W, H, P) of positive ints, got {sensor_size}")
    for name, val in (("n_time_steps (T)", n_time_steps), ("ratio", ratio), ("spatial_factor", spatial_factor)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InvalidParameterError(f"{name} must be an integer >= 1, got {val!r}")
    if mode not in ("sum", "exp"):
        raise InvalidParameterError(f"mode must be 'sum' or 'exp', got {mode!r}")
    if not (0.0 < float(decay) <= 1.0):
        raise InvalidParameterError(f"decay must be in (0, 1], got {decay!r}")


def stc_output_shape(
    sensor_size: SensorSize, n_time_steps: int, spatial_factor: int = 1, merge_polarity: bool = False
) -> tuple[int, int, int, int]:
    """Shape ``(T, P', H', W')`` of the frames of one recording."""
    w, h, p = sensor_size
    f = spatial_factor
    return (n_time_steps, 1 if merge_polarity else p, -(-h // f), -(-w // f))


class _Plan(NamedTuple):
    """Everything derived from one set of STC parameters (see :func:`_plan`)."""

    shape: tuple[int, int, int, int]  # (T, P', H', W') of one recording
    n_frame: int  # P' * H' * W'
    n_bins: int  # fine time bins: T * ratio in exp mode, T in sum mode (ratio changes nothing)
    w: int
    h: int
    n_pol: int
    f: int  # spatial_factor
    wo: np.uint32  # W'
    use_p: bool  # polarity selects the channel (P > 1 and not merged)
    weights: np.ndarray | None  # exp mode: float32 weight of each fine bin, else None
    itype: type  # dtype of the offset arithmetic: uint32, or uint64 when T * n_frame >= 2**31
    step_offsets: np.ndarray  # [T] step * n_frame (itype)
    plane: np.integer  # H' * W' (itype): offset of polarity 1
    swar_add: np.uint32  # see _count_block
    row_fold: np.uint32  # 2**16 - W: x + 2**16 * y  ->  x + W * y
    p_by_bounds: bool  # any byte p gives an exact index (no wrap-around): see _count_block


@functools.lru_cache(maxsize=128, typed=True)
def _cached_plan(
    sensor_size: tuple, n_time_steps: int, ratio: int, mode: str, decay: float, f: int, merge: bool
) -> _Plan:
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, f)
    w, h, n_pol = (int(s) for s in sensor_size)
    shape = stc_output_shape((w, h, n_pol), int(n_time_steps), int(f), bool(merge))
    n_frame = shape[1] * shape[2] * shape[3]
    n_bins = n_time_steps * (ratio if mode == "exp" else 1)
    weights = None
    if mode == "exp":  # fine bin k of an output step weighs decay ** (ratio - 1 - k)
        weights = (decay ** (ratio - 1 - np.arange(n_bins) % ratio)).astype(np.float32)
        weights.flags.writeable = False
    itype = np.uint64 if n_time_steps * n_frame >= 2**31 else np.uint32
    step_offsets = np.arange(n_time_steps, dtype=itype) * itype(n_frame)
    step_offsets.flags.writeable = False
    bx, by = min(w, 2**15), min(h, 2**15)  # int16 coordinates are < 2**15 anyway
    return _Plan(
        shape, n_frame, int(n_bins), w, h, n_pol, int(f), np.uint32(shape[3]),
        not merge and n_pol > 1, weights, itype, step_offsets, itype(shape[2] * shape[3]),
        np.uint32((2**15 - bx) | (2**15 - by) << 16), np.uint32(2**16 - shape[3]),
        256 * shape[2] * shape[3] <= 2**32,
    )


def _plan(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor, merge_polarity) -> _Plan:
    """The checked :class:`_Plan` of a parameter set (cached; raises InvalidParameterError)."""
    try:
        return _cached_plan(
            tuple(sensor_size), n_time_steps, ratio, mode, decay, spatial_factor, merge_polarity
        )
    except TypeError:  # an unhashable argument: check it without the cache
        check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
        return _cached_plan.__wrapped__(
            tuple(sensor_size), n_time_steps, ratio, mode, decay, spatial_factor, merge_polarity
        )


def _contiguous_events(events: np.ndarray, name: str) -> np.ndarray:
    """``events`` as a C-contiguous :data:`EVENT_DTYPE` array (no copy when it already is one)."""
    if not (isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE and events.ndim == 1):
        events = normalize_events(events, name)
    return np.ascontiguousarray(events)


def _bin_starts(t0: int, t1: int, n_bins: int) -> list[int]:
    """First timestamp (µs) of each of ``n_bins`` equal bins of ``[t0, t1)``, then ``t1``.

    Event time ``t`` is in bin ``k = floor((t - t0) * n_bins / (t1 - t0))`` exactly when
    ``t >= t0 + ceil(k * (t1 - t0) / n_bins)``, so on sorted timestamps
    ``np.searchsorted(t, _bin_starts(t0, t1, n_bins))`` gives the slice of every bin.
    """
    dur = t1 - t0
    return [t0 + (k * dur + n_bins - 1) // n_bins for k in range(n_bins + 1)]


def _is_sorted(t: np.ndarray) -> bool:
    """True when the 1-D ``t`` never decreases (one pass)."""
    if len(t) < 2:
        return True
    return not np.less(t[1:], t[:-1], out=_scratch.get("back", len(t) - 1, np.bool_)).any()


def _time_bins(
    ev: np.ndarray, n_bins: int, t_start: int | None, t_end: int | None, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sort non-empty ``ev`` by time if needed and cut it into ``n_bins`` fine bins.

    Returns ``(ev, edges)``: the time-sorted events inside the window and ``n_bins + 1`` slice
    edges (fine bin ``k`` is ``ev[edges[k]:edges[k+1]]``; ``edges[0] == 0``,
    ``edges[-1] == len(ev)``).
    """
    t = ev["t"]
    if not _is_sorted(t):
        ev = ev[np.argsort(t, kind="stable")]
        t = ev["t"]
    t0 = int(t[0]) if t_start is None else int(t_start)
    t1 = int(t[-1]) + 1 if t_end is None else int(t_end)
    if t1 <= t0:
        raise InvalidParameterError(f"{name}: empty time window [{t0}, {t1}) µs")
    edges = np.searchsorted(t, _bin_starts(t0, t1, n_bins))
    if t_start is not None or t_end is not None:  # drop the events outside the window
        ev = ev[edges[0] : edges[-1]]
        edges -= edges[0]
    return ev, edges


def _coordinate_error(ev: np.ndarray, plan: _Plan, name: str) -> EventCoordinateError | None:
    """The error naming the first field of ``ev`` off the sensor, or None if all are on it."""
    for fld, lim in (("x", plan.w), ("y", plan.h)):
        lo, hi = int(ev[fld].min()), int(ev[fld].max())
        if lo < 0 or hi >= lim:
            return EventCoordinateError(
                f"{name}: {fld} ranges over [{lo}, {hi}], outside the {plan.w}x{plan.h} sensor "
                f"(valid {fld}: 0..{lim - 1})"
            )
    if plan.use_p:
        lo, hi = int(ev["p"].min()), int(ev["p"].max())
        if lo < 0 or hi >= plan.n_pol:
            return EventCoordinateError(
                f"{name}: polarity ranges over [{lo}, {hi}], expected 0..{plan.n_pol - 1}"
            )
    return None


def _load_block(parts: Sequence[np.ndarray], n: int, plan: _Plan) -> tuple[np.ndarray, np.ndarray | None]:
    """Copy ``x | y << 16`` (uint32) and ``p`` (as ``plan.itype``) of the ``n`` events of ``parts``.

    One strided copy per field group and recording: the only reads of ``x``, ``y`` and ``p``
    (``p`` is widened while copied: a ``uint8 * uint32`` multiply later would be several times
    slower than this cast).
    Returns ``(buf, p)``: ``buf[:n]`` holds the words (:func:`_count_block` uses ``buf[n:]``),
    ``p`` is None when polarity is not used.
    """
    buf = _scratch.get("xy", 2 * n, np.uint32)
    p = _scratch.get("p", n, plan.itype) if plan.use_p else None
    pos = 0
    for ev in parts:
        m = len(ev)
        if _FAST_LAYOUT:  # little-endian: x is the low half of the 32-bit word at offset 0
            np.copyto(buf[pos : pos + m], ev.view(np.uint32)[:: _ITEM // 4])
        else:
            xy = buf[pos : pos + m]
            np.copyto(xy, ev["y"].view(np.uint16))
            xy <<= 16
            xy |= ev["x"].view(np.uint16)
        if p is not None:
            np.copyto(p[pos : pos + m], ev.view(np.uint8)[_P_OFFSET::_ITEM])
        pos += m
    return buf, p


_SIGN_BITS = (1 << 15) | (1 << 31)  # top bits of the x and y halves of an x | y << 16 word


def _count_block(
    out: np.ndarray,
    buf: np.ndarray,
    p: np.ndarray | None,
    n: int,
    plan: _Plan,
    offsets: np.ndarray | list[int] | None,
    weights: np.ndarray | np.float32,
    bounded: bool = False,
) -> bool:
    """Add the ``n`` events loaded by :func:`_load_block` to the flat float32 ``out``.

    Returns False when an event is off the sensor (``out`` is then garbage). ``offsets``:
    per-event frame offsets (``plan.itype``), or the ``T + 1`` step edges of one time-sorted
    recording (step ``s`` is ``[edges[s], edges[s+1])``, added slice by slice), or None.
    ``bounded``: ``out`` holds exactly one frame (``T == 1``, no offsets), so a polarity
    ``>= P`` (a byte, at most 255) can only give an index past its end, which ``np.add.at``
    reports (``plan.p_by_bounds``: the index cannot wrap around).

    Checking the coordinates takes one add and one reduction (SWAR, "SIMD within a register"):
    in ``u = x | y << 16`` (as unsigned 16-bit halves) adding ``swar_add`` gives
    ``x + 2**15 - W`` and ``y + 2**15 - H``, which for ``0 <= x, y < 2**15`` never carry out of
    their half and have their top bit set exactly when ``x >= W`` or ``y >= H``; negative
    coordinates already have it set in ``u``. So the bitwise OR of all ``u`` and ``u + swar_add``
    has bit 15 or bit 31 set iff some event is off the sensor.
    """
    xy, tmp = buf[:n], buf[n : 2 * n]
    np.add(xy, plan.swar_add, out=tmp)
    if int(np.bitwise_or.reduce(buf[: 2 * n])) & _SIGN_BITS:
        return False
    if p is not None and not bounded and int(p.max()) >= plan.n_pol:
        return False
    np.right_shift(xy, 16, out=tmp)  # y
    if plan.f == 1:
        tmp *= plan.row_fold
        xy -= tmp  # x + 2**16 y - (2**16 - W) y = x + W y
    else:
        xy &= 0xFFFF  # x
        xy //= plan.f
        tmp //= plan.f
        tmp *= plan.wo
        xy += tmp
    extra = offsets if isinstance(offsets, np.ndarray) else None  # added to x + W y
    if p is not None:  # the polarity plane, plus the frame offsets
        p *= plan.plane
        if extra is not None:
            p += extra
        extra = p
    idx = _scratch.get("idx", n, np.int64)
    if extra is None:
        np.copyto(idx, xy)
    elif extra.dtype == np.uint32:  # an in-place add and a cast beat one mixed-type add
        xy += extra
        np.copyto(idx, xy)
    else:
        np.add(xy, extra, out=idx)
    if isinstance(offsets, list):
        for s in range(1, len(offsets) - 1):
            if offsets[s] < offsets[s + 1]:
                idx[offsets[s] : offsets[s + 1]] += int(plan.step_offsets[s])
    try:
        np.add.at(out, idx, weights)
    except IndexError:
        if not bounded:
            raise
        return False
    return True


def _step_offsets(plan: _Plan, fine_edges: np.ndarray) -> np.ndarray | list[int] | None:
    """Frame offsets of one time-sorted run of events cut by ``fine_edges`` (for :func:`_count_block`).

    None for ``T == 1``; the step edges (added slice by slice) for ``T <= 4``; else per-event
    offsets built by one ``np.repeat``.
    """
    n_steps = plan.shape[0]
    if n_steps == 1:
        return None
    steps = fine_edges[:: plan.n_bins // n_steps]
    return steps.tolist() if n_steps <= 4 else np.repeat(plan.step_offsets, np.diff(steps))


def _add_recording(
    out: np.ndarray, ev: np.ndarray, plan: _Plan, t_start: int | None, t_end: int | None, name: str
) -> None:
    """Add the frames of one non-empty recording (contiguous :data:`EVENT_DTYPE`) to ``out``.

    ``out``: zeroed flat float32 ``[T * n_frame]``. The recording goes in blocks of at most
    :data:`_BLOCK` events, so that its records come from memory once and the later passes over
    a block hit the cache. With time bins, sorted events make each bin a slice found by
    ``np.searchsorted``. A long recording with the default window is checked for sortedness
    block by block (each block continuing the previous one) and cut block by block; one found
    unsorted is sorted and started again.
    """
    n, n_bins = len(ev), plan.n_bins
    edges = starts = None
    if t_start is not None or t_end is not None:  # explicit window: sort and trim first
        ev, edges = _time_bins(ev, n_bins, t_start, t_end, name)
        n = len(ev)
    elif n_bins > 1:
        t = ev["t"]
        t0, t1 = int(t[0]), int(t[-1]) + 1
        if t1 <= t0:  # the last event precedes the first: not sorted
            _add_recording(out, ev[np.argsort(t, kind="stable")], plan, None, None, name)
            return
        starts = _bin_starts(t0, t1, n_bins)
    ok = True
    for a in range(0, n, _BLOCK):
        b = min(a + _BLOCK, n)
        buf, p = _load_block((ev[a:b],), b - a, plan)  # first: it pays for reading the records
        fine = None  # fine-bin edges within the block
        if starts is not None:
            t = ev["t"]
            if not _is_sorted(t[max(a - 1, 0) : b]):
                out[:] = 0
                _add_recording(out, ev[np.argsort(t, kind="stable")], plan, None, None, name)
                return
            fine = np.searchsorted(t[a:b], starts)
        elif edges is not None:
            fine = edges if n <= _BLOCK else np.clip(edges - a, 0, b - a)
        offsets: np.ndarray | list[int] | None = None
        weights: np.ndarray | np.float32 = np.float32(1)
        if fine is not None:
            offsets = _step_offsets(plan, fine)
            if plan.weights is not None:
                weights = np.repeat(plan.weights, np.diff(fine))
        bounded = offsets is None and n <= _BLOCK and plan.p_by_bounds
        ok = ok and _count_block(out, buf, p, b - a, plan, offsets, weights, bounded)
    if not ok:
        raise _coordinate_error(ev, plan, name) or AssertionError(f"{name}: invalid event not found")


def _add_group(out: np.ndarray, evs: Sequence[np.ndarray], names: Sequence[str], plan: _Plan) -> None:
    """Add the frames of several recordings (contiguous :data:`EVENT_DTYPE`) to ``out``.

    ``out``: zeroed flat float32 ``[len(evs) * T * n_frame]``; the recordings should hold about
    :data:`_BLOCK` events in all. Each gets its own window (first to last event). They are
    counted as one block: event ``i`` of recording ``r`` in output step ``s`` goes to
    ``(r * T + s) * n_frame + pixel(i)``. For time bins, each recording's timestamps are
    copied shifted onto one increasing axis (recording ``r`` starts where ``r - 1`` ends), so
    one sortedness check and one ``np.searchsorted`` serve the whole block; if a recording is
    not sorted, the block falls back to :func:`_add_recording` per recording.
    """
    live = [r for r, ev in enumerate(evs) if len(ev)]
    if not live:
        return
    parts = [evs[r] for r in live]
    lens = [len(ev) for ev in parts]
    n = sum(lens)
    n_steps, n_bins = plan.shape[0], plan.n_bins
    rec_offsets = np.array(live, plan.itype) * plan.itype(n_steps * plan.n_frame)
    weights: np.ndarray | np.float32 = np.float32(1)
    buf, p = _load_block(parts, n, plan)  # first: it pays for reading the records
    if n_bins == 1:
        offsets = np.repeat(rec_offsets, lens)
    else:
        keys = _scratch.get("keys", n, np.int64)
        durs: list[int] = []
        pos = base = 0
        for ev, m in zip(parts, lens, strict=True):
            t = ev["t"]
            t0 = int(t[0])
            dur = max(int(t[-1]) + 1 - t0, 1)  # < 1: unsorted, found by _is_sorted below
            np.subtract(t, t0 - base, out=keys[pos : pos + m])
            durs.append(dur)
            pos, base = pos + m, base + dur
        if base * n_bins >= 2**62 or not _is_sorted(keys):  # int64 overflow, or not sorted
            per_rec = n_steps * plan.n_frame
            for r in live:
                _add_recording(out[r * per_rec : (r + 1) * per_rec], evs[r], plan, None, None, names[r])
            return
        d = np.array(durs, np.int64)  # bin starts of all recordings at once, as _bin_starts
        k = np.arange(n_bins + 1)
        starts = ((np.cumsum(d) - d)[:, None] + (k * d[:, None] + (n_bins - 1)) // n_bins).ravel()
        fine = np.diff(np.searchsorted(keys, starts).reshape(len(parts), n_bins + 1), axis=1)
        counts = fine if n_bins == n_steps else fine.reshape(len(parts), n_steps, -1).sum(axis=2)
        offsets = np.repeat((rec_offsets[:, None] + plan.step_offsets).ravel(), counts.ravel())
        if plan.weights is not None:
            weights = np.repeat(np.tile(plan.weights, len(parts)), fine.ravel())
    if not _count_block(out, buf, p, n, plan, offsets, weights):
        for r in live:
            err = _coordinate_error(evs[r], plan, names[r])
            if err is not None:
                raise err
        raise AssertionError("an event is off the sensor but none was found")  # pragma: no cover


def _carry(out: np.ndarray, decay: float, ratio: int) -> None:
    """``exp`` mode with ``carry``: ``X[t] += decay**ratio * X[t-1]`` along axis ``-2``."""
    lam = np.float32(decay**ratio)
    for i in range(1, out.shape[-2]):
        out[..., i, :] += lam * out[..., i - 1, :]


def stc_numpy(
    events: np.ndarray,
    sensor_size: SensorSize,
    n_time_steps: int,
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
        n_time_steps: ``T``, the number of output frames (>= 1).
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
    plan = _plan(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor, merge_polarity)
    out = np.zeros(plan.shape, np.float32)
    ev = _contiguous_events(events, name)
    if len(ev):
        _add_recording(out.reshape(-1), ev, plan, t_start, t_end, name)
    if mode == "exp" and carry:
        _carry(out.reshape(n_time_steps, plan.n_frame), decay, ratio)
    return out


def stc_numpy_batch(
    recordings: Sequence[np.ndarray],
    sensor_size: SensorSize,
    n_time_steps: int,
    ratio: int = 1,
    mode: Mode = "sum",
    decay: float = 0.5,
    spatial_factor: int = 1,
    merge_polarity: bool = False,
    carry: bool = False,
) -> np.ndarray:
    """Compress ``B`` recordings into ``[B, T, P', H', W']`` float32 frames.

    Each recording gets its own window (its first to its last event), exactly as
    :func:`stc_numpy` would give it. Parameters are checked once; consecutive recordings are
    grouped into blocks of about :data:`_BLOCK` events, each counted in one vectorised pass
    straight into its slots of the output (:func:`_add_group`; a longer recording goes alone,
    block by block). Error messages name the recording's index (``"recording i"``).
    """
    plan = _plan(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor, merge_polarity)
    out = np.zeros((len(recordings), *plan.shape), np.float32)
    flat = out.reshape(-1)
    per_rec = n_time_steps * plan.n_frame
    max_recs = max(1, (2**32 - 1) // per_rec)  # keeps uint32 offsets from overflowing
    evs = [_contiguous_events(r, f"recording {i}") for i, r in enumerate(recordings)]
    start = 0
    while start < len(evs):  # groups of whole recordings of about _BLOCK events
        stop, n = start + 1, len(evs[start])
        while stop < len(evs) and stop - start < max_recs and n + len(evs[stop]) <= _BLOCK:
            n += len(evs[stop])
            stop += 1
        names = [f"recording {i}" for i in range(start, stop)]
        if stop - start == 1:
            if len(evs[start]):
                _add_recording(flat[start * per_rec : stop * per_rec], evs[start], plan, None, None, names[0])
        else:
            _add_group(flat[start * per_rec : stop * per_rec], evs[start:stop], names, plan)
        start = stop
    if mode == "exp" and carry:
        _carry(out.reshape(len(recordings), n_time_steps, plan.n_frame), decay, ratio)
    return out


def stc_torch(
    x: torch.Tensor,
    y: torch.Tensor,
    t: torch.Tensor,
    p: torch.Tensor,
    sensor_size: SensorSize,
    n_time_steps: int,
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
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
    if not (x.shape == y.shape == t.shape == p.shape) or x.dim() != 1:
        raise EventFormatError(
            f"x, y, t, p must be 1-D tensors of one length, got {tuple(x.shape)}, "
            f"{tuple(y.shape)}, {tuple(t.shape)}, {tuple(p.shape)}"
        )
    w, h, n_pol = sensor_size
    f = spatial_factor
    shape = stc_output_shape(sensor_size, n_time_steps, spatial_factor, merge_polarity)
    n_frame = shape[1] * shape[2] * shape[3]
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
    for col, lim, fld in ((x, w, "x"), (y, h, "y")):
        lo, hi = torch.aminmax(col)
        if int(lo) < 0 or int(hi) >= lim:
            raise EventCoordinateError(
                f"{fld} ranges over [{int(lo)}, {int(hi)}], outside the {w}x{h} sensor "
                f"(valid {fld}: 0..{lim - 1})"
            )
    sp = (y // f) * shape[3] + (x // f)
    if not merge_polarity and n_pol > 1:
        lo, hi = torch.aminmax(p)
        if int(lo) < 0 or int(hi) >= n_pol:
            raise EventCoordinateError(
                f"polarity ranges over [{int(lo)}, {int(hi)}], expected 0..{n_pol - 1}"
            )
        sp = sp + p * (shape[2] * shape[3])
    big = torch.iinfo(torch.int64).max
    t0 = torch.full((b,), big, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amin")
    t1 = torch.full((b,), -1, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amax") + 1
    n_bins = n_time_steps * (ratio if mode == "exp" else 1)
    fine = torch.div((t - t0[sample]) * n_bins, (t1 - t0)[sample], rounding_mode="floor")
    step = torch.div(fine, n_bins // n_time_steps, rounding_mode="floor")
    flat = (sample * n_time_steps + step) * n_frame + sp
    if mode == "sum":
        src = torch.ones(1, device=dev).expand(len(flat))
    else:
        src = torch.pow(
            torch.tensor(decay, dtype=torch.float64, device=dev), (ratio - 1 - fine % ratio).double()
        ).float()
    out = torch.zeros(b * n_time_steps * n_frame, dtype=torch.float32, device=dev)
    out.index_add_(0, flat, src)
    out = out.reshape(b, n_time_steps, n_frame)
    if mode == "exp" and carry:
        lam = decay**ratio
        for i in range(1, n_time_steps):
            out[:, i] += lam * out[:, i - 1]
    out = out.reshape(b, *shape)
    return out[0] if single else out
