"""Spatio-temporal compression (STC): events -> a few frames of synaptic current.

Reconstruction of Xu et al. (2022), see ``papers.md`` §1.4a. A recording spanning the window
``[t_start, t_end)`` (µs) is cut into ``N_f = T * ratio`` equal fine bins; event ``i`` falls in
fine bin ``floor((t_i - t_start) * N_f / (t_end - t_start))``. Every ``ratio`` consecutive fine
frames ``F`` are then compressed into one output frame:

- ``mode="sum"``: ``X[t] = sum_k F[t*ratio + k]`` (an exact event count);
- ``mode="exp"``: ``X[t] = sum_k decay**(ratio-1-k) * F[t*ratio + k]``, i.e. the synaptic
  current ``I <- decay*I + F`` run over the fine frames of one output step and read at its end;
  with ``carry=True`` the current is not reset between output steps
  (``X[t] += decay**ratio * X[t-1]``).

Spatially, coordinates are divided by ``spatial_factor`` (sum pooling, so no event is lost), and
``merge_polarity`` folds ON and OFF into one channel.

Unlike Tonic's ``ToFrame`` every event inside the window is counted exactly once (the last event is
not dropped at the bin edge), counts accumulate in float32 from int64 (no int16 overflow), and an
empty recording gives zero frames of the same shape and dtype as any other.

Shapes: one recording -> ``[T, P', H', W']``; a batch of ``B`` recordings -> ``[B, T, P', H', W']``
with ``P' = 1 if merge_polarity else P``, ``H' = ceil(H / spatial_factor)``,
``W' = ceil(W / spatial_factor)``; dtype float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from eventsnn.errors import EventCoordinateError, EventFormatError, InvalidParameterError
from eventsnn.events import SensorSize, normalize_events

Mode = Literal["sum", "exp"]

__all__ = ["stc_numpy", "stc_numpy_batch", "stc_torch", "stc_output_shape", "check_stc_params"]


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


def _spatial_index(ev: np.ndarray, sensor_size: SensorSize, f: int, merge: bool, name: str) -> np.ndarray:
    """Flat ``(p, y', x')`` index of each event, after checking coordinates are on the sensor."""
    w, h, n_pol = sensor_size
    x, y = ev["x"], ev["y"]
    if len(ev):
        # one pass per field: negative int16 values become large as uint16
        for col, lim, fld in ((x, w, "x"), (y, h, "y")):
            if int(col.view(np.uint16).max()) >= lim:
                lo, hi = int(col.min()), int(col.max())
                raise EventCoordinateError(
                    f"{name}: {fld} ranges over [{lo}, {hi}], outside the {w}x{h} sensor "
                    f"(valid {fld}: 0..{lim - 1})"
                )
    wo, ho = -(-w // f), -(-h // f)
    itype = np.int32 if n_pol * ho * wo < 2**24 else np.intp
    if f > 1:
        x, y = x // f, y // f
    idx = np.multiply(y, itype(wo), dtype=itype)
    np.add(idx, x, out=idx, casting="unsafe")
    if not merge and n_pol > 1:
        p = ev["p"]
        if len(ev) and int(p.view(np.uint8).max()) >= n_pol:
            raise EventCoordinateError(
                f"{name}: polarity ranges over [{int(p.min())}, {int(p.max())}], "
                f"expected 0..{n_pol - 1}"
            )
        idx += np.multiply(p, itype(ho * wo), dtype=itype)
    return idx


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
        events: structured array with fields ``x, y, t, p`` (``t`` in µs).
        sensor_size: ``(W, H, P)``.
        n_time_steps: ``T``, the number of output frames (>= 1).
        ratio: compression ratio ``CR = N_f / T`` (fine frames per output frame).
        mode: ``"sum"`` (exact counts) or ``"exp"`` (decaying synaptic current).
        decay: ``λ`` of the ``exp`` mode, in ``(0, 1]``.
        spatial_factor: integer down-sampling factor of x and y (sum pooling).
        merge_polarity: fold ON/OFF into one channel.
        carry: ``exp`` mode only; keep the current across output steps.
        t_start, t_end: the window in µs (default: first event to last event inclusive). Events
            outside it are left out.
        name: used in error messages.

    Returns:
        float32 array of shape :func:`stc_output_shape`.
    """
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
    ev = normalize_events(events, name)
    shape = stc_output_shape(sensor_size, n_time_steps, spatial_factor, merge_polarity)
    n_frame = shape[1] * shape[2] * shape[3]
    if len(ev) == 0:
        return np.zeros(shape, dtype=np.float32)
    t = ev["t"]
    if len(t) > 1 and not bool((t[1:] >= t[:-1]).all()):
        ev = ev[np.argsort(t, kind="stable")]
        t = ev["t"]
    t0 = int(t[0]) if t_start is None else int(t_start)
    t1 = int(t[-1]) + 1 if t_end is None else int(t_end)
    if t1 <= t0:
        raise InvalidParameterError(f"{name}: empty time window [{t0}, {t1}) µs")
    if t_start is not None or t_end is not None:
        lo, hi = np.searchsorted(t, [t0, t1], side="left")
        ev, t = ev[lo:hi], t[lo:hi]
    idx = _spatial_index(ev, sensor_size, spatial_factor, merge_polarity, name)
    n_bins = n_time_steps * (1 if mode == "sum" else ratio)
    if n_bins == 1:
        return np.bincount(idx, minlength=n_frame).astype(np.float32).reshape(shape)
    k = np.arange(n_bins + 1, dtype=np.int64)
    dur = t1 - t0
    # events are sorted, so fine bin k is the slice edges[k]:edges[k+1], where
    # edges[k] is the first event with t >= t0 + ceil(k * dur / n_bins)
    edges = np.searchsorted(t, t0 + (k * dur + n_bins - 1) // n_bins, side="left")
    counts = np.diff(edges)
    step = np.arange(n_bins, dtype=idx.dtype) // (n_bins // n_time_steps)
    idx += np.repeat(step * idx.dtype.type(n_frame), counts)
    weights = None
    if mode == "exp":
        weights = np.repeat(decay ** ((ratio - 1 - np.arange(n_bins) % ratio).astype(np.float64)), counts)
    out = np.bincount(idx, weights=weights, minlength=n_time_steps * n_frame)
    out = out.astype(np.float32).reshape(n_time_steps, n_frame)
    if mode == "exp" and carry:
        lam = decay**ratio
        for i in range(1, n_time_steps):
            out[i] += lam * out[i - 1]
    return out.reshape(shape)


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
    """Compress ``B`` recordings at once into ``[B, T, P', H', W']`` float32 frames.

    Each recording gets its own window (its first to its last event), exactly as
    :func:`stc_numpy` would give it; the work is one vectorised pass over all events.
    """
    check_stc_params(sensor_size, n_time_steps, ratio, mode, decay, spatial_factor)
    shape = stc_output_shape(sensor_size, n_time_steps, spatial_factor, merge_polarity)
    n_frame = shape[1] * shape[2] * shape[3]
    b = len(recordings)
    evs = [normalize_events(r, f"recording {i}") for i, r in enumerate(recordings)]
    lengths = np.array([len(e) for e in evs], dtype=np.int64)
    if lengths.sum() == 0:
        return np.zeros((b, *shape), dtype=np.float32)
    ev = np.concatenate(evs)
    sp = _spatial_index(ev, sensor_size, spatial_factor, merge_polarity, "batch")
    t = ev["t"]
    sample = np.repeat(np.arange(b, dtype=np.int64), lengths)
    nonempty = lengths > 0
    starts = np.zeros(b, dtype=np.int64)
    starts[1:] = np.cumsum(lengths)[:-1]
    t0 = np.zeros(b, dtype=np.int64)
    t1 = np.ones(b, dtype=np.int64)
    t0[nonempty] = np.minimum.reduceat(t, starts[nonempty])
    t1[nonempty] = np.maximum.reduceat(t, starts[nonempty]) + 1
    n_bins = n_time_steps * (1 if mode == "sum" else ratio)
    fine = ((t - t0[sample]) * n_bins) // (t1 - t0)[sample]
    if mode == "sum":
        step = fine
        weights = None
    else:
        step = fine // ratio
        weights = decay ** (ratio - 1 - (fine % ratio)).astype(np.float64)
    flat = (sample * n_time_steps + step) * n_frame + sp
    out = np.bincount(flat, weights=weights, minlength=b * n_time_steps * n_frame)
    out = out.astype(np.float32).reshape(b, n_time_steps, n_frame)
    if mode == "exp" and carry:
        lam = decay**ratio
        for i in range(1, n_time_steps):
            out[:, i] += lam * out[:, i - 1]
    return out.reshape(b, *shape)


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
        x, y, t, p: 1-D integer tensors of equal length (``t`` in µs).
        sample: optional 1-D int64 tensor giving each event's recording in ``0..batch_size-1``;
            without it all events are one recording.
        batch_size: number of recordings when ``sample`` is given (default ``sample.max()+1``).
        Other arguments as in :func:`stc_numpy`.

    Returns:
        ``[T, P', H', W']`` without ``sample``, else ``[B, T, P', H', W']``; float32 on the
        inputs' device. Matches :func:`stc_numpy` / :func:`stc_numpy_batch` exactly in ``sum``
        mode.
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
        if bool((col < 0).any()) or bool((col >= lim).any()):
            raise EventCoordinateError(f"{fld} outside the {w}x{h} sensor")
    sp = (y // f) * shape[3] + (x // f)
    if not merge_polarity and n_pol > 1:
        if bool((p < 0).any()) or bool((p >= n_pol).any()):
            raise EventCoordinateError(f"polarity outside 0..{n_pol - 1}")
        sp = sp + p * (shape[2] * shape[3])
    big = torch.iinfo(torch.int64).max
    t0 = torch.full((b,), big, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amin")
    t1 = torch.full((b,), -1, dtype=torch.long, device=dev).scatter_reduce(0, sample, t, "amax") + 1
    n_bins = n_time_steps * (1 if mode == "sum" else ratio)
    fine = torch.div((t - t0[sample]) * n_bins, (t1 - t0)[sample], rounding_mode="floor")
    if mode == "sum":
        step, weights = fine, None
    else:
        step = torch.div(fine, ratio, rounding_mode="floor")
        weights = torch.pow(
            torch.tensor(decay, dtype=torch.float64, device=dev), (ratio - 1 - fine % ratio).double()
        )
    flat = (sample * n_time_steps + step) * n_frame + sp
    out = torch.bincount(flat, weights=weights, minlength=b * n_time_steps * n_frame)
    out = out.to(torch.float32).reshape(b, n_time_steps, n_frame)
    if mode == "exp" and carry:
        lam = decay**ratio
        for i in range(1, n_time_steps):
            out[:, i] += lam * out[:, i - 1]
    out = out.reshape(b, *shape)
    return out[0] if single else out
