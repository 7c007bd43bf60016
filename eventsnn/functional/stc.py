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

Where the numpy path's time goes (``benchmarks/bench_stc.py`` measures it against Tonic):

- reading a field of the 16-byte event records is a strided, unvectorised pass, so each part is
  read once — ``x`` and ``y`` together as one 32-bit word, ``p``, and ``t`` only when binning in
  time — and the rest is done on contiguous ``uint32`` arrays;
- events sorted in time make each time bin a slice found by ``np.searchsorted``: no per-event
  division, and the time offset is added slice by slice in place;
- counts go straight into the float32 output with ``np.add.at`` (its fast 1-D path);
  ``np.bincount`` would give int64 counts whose conversion to float32 costs more than the
  counting for ``T x 128 x 128`` outputs;
- the per-event work arrays are reused from call to call (see :class:`_Scratch`).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from eventsnn.errors import EventCoordinateError, EventFormatError, InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize, normalize_events

Mode = Literal["sum", "exp"]

__all__ = ["stc_numpy", "stc_numpy_batch", "stc_torch", "stc_output_shape", "check_stc_params"]

_SCRATCH_LIMIT = 1 << 24  # bytes: larger work arrays are not kept between calls


class _Scratch(threading.local):
    """Per-thread work arrays, reused from call to call.

    On first touch fresh memory costs a page fault per 4 KiB, several times the cost of writing
    it, and the per-event temporaries (9 bytes per event) would otherwise be fresh at every call.
    Nothing returned to the caller ever lives in these arrays.
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


def _contiguous_events(events: np.ndarray, name: str) -> np.ndarray:
    """``events`` as a C-contiguous :data:`EVENT_DTYPE` array (no copy when it already is one)."""
    if not (isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE and events.ndim == 1):
        events = normalize_events(events, name)
    return np.ascontiguousarray(events)


def _sorted_by_time(ev: np.ndarray) -> np.ndarray:
    """``ev`` itself when its timestamps never decrease, else a stably time-sorted copy."""
    t = ev["t"]
    back = _scratch.get("back", max(len(t) - 1, 0), np.bool_)
    if np.less(t[1:], t[:-1], out=back).any():
        return ev[np.argsort(t, kind="stable")]
    return ev


def _bin_starts(t0: int, t1: int, n_bins: int) -> list[int]:
    """First timestamp (µs) of each of ``n_bins`` equal bins of ``[t0, t1)``, then ``t1``.

    Event time ``t`` is in bin ``k = floor((t - t0) * n_bins / (t1 - t0))`` exactly when
    ``t >= t0 + ceil(k * (t1 - t0) / n_bins)``, so on sorted timestamps
    ``np.searchsorted(t, _bin_starts(t0, t1, n_bins))`` gives the slice of every bin.
    """
    dur = t1 - t0
    return [t0 + (k * dur + n_bins - 1) // n_bins for k in range(n_bins + 1)]


def _pixel_index(
    ev: np.ndarray, sensor_size: SensorSize, f: int, merge: bool, name: str
) -> np.ndarray:
    """Flat ``(p * H' + y') * W' + x'`` index (int32) of every event of contiguous ``ev``.

    The result is a scratch array, valid until the next call. Raises
    :class:`EventCoordinateError` when a coordinate or polarity is off the sensor.
    """
    w, h, n_pol = sensor_size
    n = len(ev)
    x, y = _scratch.get("x", n, np.uint32), _scratch.get("index", n, np.uint32)
    if sys.byteorder == "little":  # x, y: low and high half of the 32-bit word at byte 0
        np.copyto(y, ev.view(np.uint32)[::4])  # the only strided pass over x and y
        np.bitwise_and(y, 0xFFFF, out=x)
        y >>= 16
    else:
        np.copyto(x, ev["x"].view(np.uint16))
        np.copyto(y, ev["y"].view(np.uint16))
    # as unsigned, negative coordinates are >= 32768, so one max per axis checks both bounds
    for col, lim, fld in ((x, w, "x"), (y, h, "y")):
        if n and int(col.max()) >= lim:
            lo, hi = int(ev[fld].min()), int(ev[fld].max())
            raise EventCoordinateError(
                f"{name}: {fld} ranges over [{lo}, {hi}], outside the {w}x{h} sensor "
                f"(valid {fld}: 0..{lim - 1})"
            )
    if f > 1:
        x //= f
        y //= f
    ho, wo = -(-h // f), -(-w // f)
    idx = y
    idx *= wo
    idx += x
    if not merge and n_pol > 1:
        p = x  # reuse the buffer; negative int8 polarities become >= 128
        np.copyto(p, ev["p"].view(np.uint8))
        if n and int(p.max()) >= n_pol:
            raise EventCoordinateError(
                f"{name}: polarity ranges over [{int(ev['p'].min())}, {int(ev['p'].max())}], "
                f"expected 0..{n_pol - 1}"
            )
        p *= ho * wo
        idx += p
    return idx.view(np.int32)


def _add_recording(
    out: np.ndarray,
    events: np.ndarray,
    sensor_size: SensorSize,
    ratio: int,
    mode: str,
    decay: float,
    spatial_factor: int,
    merge_polarity: bool,
    t_start: int | None,
    t_end: int | None,
    name: str,
) -> None:
    """Add one recording's events to zeroed, C-contiguous float32 ``out`` ``[T, n_frame]``.

    Everything but ``carry``: see :func:`stc_numpy` for the arguments.
    """
    ev = _contiguous_events(events, name)
    if len(ev) == 0:
        return
    n_time_steps, n_frame = out.shape
    n_bins = n_time_steps * (ratio if mode == "exp" else 1)
    if n_bins == 1 and t_start is None and t_end is None:
        edges = np.array([0, len(ev)])  # one bin holding everything: no need to look at t
    else:
        ev = _sorted_by_time(ev)
        t = ev["t"]
        t0 = int(t[0]) if t_start is None else int(t_start)
        t1 = int(t[-1]) + 1 if t_end is None else int(t_end)
        if t1 <= t0:
            raise InvalidParameterError(f"{name}: empty time window [{t0}, {t1}) µs")
        edges = np.searchsorted(t, _bin_starts(t0, t1, n_bins))  # bin k: ev[edges[k]:edges[k+1]]
        if edges[0] > 0 or edges[-1] < len(ev):  # drop the events outside the window
            ev = ev[edges[0] : edges[-1]]
            edges -= edges[0]
    idx = _pixel_index(ev, sensor_size, spatial_factor, merge_polarity, name)
    if out.size > 2**31 - 1:  # beyond int32 indices
        idx = idx.astype(np.int64)
    steps = edges[:: n_bins // n_time_steps].tolist()  # output step s: ev[steps[s]:steps[s+1]]
    for s in range(1, n_time_steps):
        if steps[s] < steps[s + 1]:
            idx[steps[s] : steps[s + 1]] += s * n_frame
    if mode == "sum":
        weights = np.float32(1)
    else:  # fine bin k of an output step weighs decay ** (ratio - 1 - k)
        w = (decay ** (ratio - 1 - np.arange(n_bins) % ratio)).astype(np.float32)
        weights = np.repeat(w, np.diff(edges))
    np.add.at(out.reshape(-1), idx, weights)


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
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
    shape = stc_output_shape(sensor_size, n_time_steps, spatial_factor, merge_polarity)
    out = np.zeros(shape, np.float32)
    flat = out.reshape(n_time_steps, shape[1] * shape[2] * shape[3])
    _add_recording(
        flat, events, sensor_size, ratio, mode, decay, spatial_factor, merge_polarity,
        t_start, t_end, name,
    )
    if mode == "exp" and carry:
        _carry(flat, decay, ratio)
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
    :func:`stc_numpy` would give it, and is written straight into its slot of the output (no
    per-recording output, no stacking copy); parameters are checked once. Error messages name
    the recording's index. (Concatenating small recordings for one vectorised pass was measured:
    copying the events costs as much as the per-call overhead it saves.)
    """
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
    shape = stc_output_shape(sensor_size, n_time_steps, spatial_factor, merge_polarity)
    out = np.zeros((len(recordings), *shape), np.float32)
    flat = out.reshape(len(recordings), n_time_steps, shape[1] * shape[2] * shape[3])
    for i, events in enumerate(recordings):
        _add_recording(
            flat[i], events, sensor_size, ratio, mode, decay, spatial_factor, merge_polarity,
            None, None, f"recording {i}",
        )
    if mode == "exp" and carry:
        _carry(flat, decay, ratio)
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
