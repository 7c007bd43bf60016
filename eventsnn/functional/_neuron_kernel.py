"""The hand-written kernels behind :func:`eventsnn.functional.neuron.mtlif_multistep` and
:func:`eventsnn.functional.neuron.synapse_multistep`, and the CPU scheduler they run on.

- :class:`MTLIFFunction`: multi-step MT-LIF as a custom :class:`torch.autograd.Function`. Forward
  runs the time loop without building a graph and saves only the charged membrane ``h[t]``;
  backward is a hand-written BPTT loop. Same values and gradients as
  :func:`eventsnn.functional.neuron.mtlif_multistep_reference` (the readable definition).
- :class:`SynapseFunction`: the first-order synaptic current ``I[t] = alpha I[t-1] + x[t]``,
  likewise.
- The CPU scheduler: the neurons are split into cache-sized chunks (:data:`CPU_CHUNK` elements
  per time step) that contiguous groups of worker threads own for the whole time loop; on CUDA
  the whole tensor is one chunk. Both kernels are device-agnostic.
- :func:`channel_view`: how a scalar or per-channel ``[C]`` parameter broadcasts over a
  ``[B, C, ...]`` step (shared with the reference dynamics).

State: this module holds the scheduler's state, and only that: :data:`CPU_CHUNK` (read once
from ``EVENTSNN_MTLIF_CHUNK``, default 65536; 0 disables chunking and the thread pool) and a
persistent :class:`~concurrent.futures.ThreadPoolExecutor` created on first use under a lock and
dropped in forked children (threads do not survive ``fork``, e.g. in DataLoader workers). The
kernels themselves keep nothing between calls. ``benchmarks/bench_mtlif.py`` measures their
speed against SpikingJelly.
"""

from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.functional.surrogate import graded, graded_grad_into, surrogate_into, windows_disjoint

if TYPE_CHECKING:
    from eventsnn.functional.neuron import MTLIFParams

__all__ = ["CPU_CHUNK", "MAX_WORKERS_CAP", "MTLIFFunction", "SynapseFunction", "channel_view"]


def channel_view(k: torch.Tensor, step_ndim: int) -> torch.Tensor:
    """Shape a scalar or ``[C]`` tensor to broadcast on dim 1 of a ``[B, C, ...]`` step."""
    if k.ndim == 0:
        return k
    if k.ndim != 1:
        raise InvalidParameterError(f"w must be a scalar or a [C] vector, got shape {tuple(k.shape)}")
    if step_ndim < 2:
        raise InvalidParameterError("per-channel tau needs inputs of shape [B, C, ...]")
    return k.view(-1, *([1] * (step_ndim - 2)))


# ----------------------------------------------------------------------------------------------
# CPU scheduler


# The time loop runs chunk by chunk over the neurons (CPU): every op of one step then works on a
# slice that stays in the core's L2 cache, instead of streaming [B, C, H, W] tensors through
# memory ~20 times per step. Chunk size in elements per time step (0 = no chunking).
CPU_CHUNK = int(os.environ.get("EVENTSNN_MTLIF_CHUNK", "65536"))
MAX_WORKERS_CAP = 16


def _rows_view(t: torch.Tensor, lead: int, per_channel: bool) -> torch.Tensor:
    """View ``[*lead dims, B, C, ...]`` as ``[*lead, N]`` (scalar w) or ``[*lead, B*C, S]``."""
    head = t.shape[:lead]
    if not per_channel:
        return t.reshape(*head, -1)
    return t.reshape(*head, t.shape[lead] * t.shape[lead + 1], -1)


def _n_workers(device: torch.device) -> int:
    return max(1, torch.get_num_threads()) if device.type == "cpu" and CPU_CHUNK > 0 else 1


def _chunk_bounds(rows: int, row_size: int, device: torch.device) -> list[tuple[int, int]]:
    """Row ranges of the chunks. With several CPU threads the chunks are kept below torch's
    parallel grain size (32768 elements) so every op runs single-threaded inside one worker."""
    if device.type != "cpu" or CPU_CHUNK <= 0:
        return [(0, rows)]
    target = CPU_CHUNK if _n_workers(device) == 1 else min(CPU_CHUNK, 32767)
    step = max(1, target // max(row_size, 1))
    return [(a, min(a + step, rows)) for a in range(0, rows, step)]


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _run_chunks(work, bounds: list[tuple[int, int]]) -> list:
    """Run ``work(list_of_chunks)`` over contiguous groups of chunks, one group per CPU thread
    (``torch.get_num_threads()``), in a persistent thread pool (torch ops release the GIL), and
    return the results in group order. One group runs in the calling thread. Threads that own
    whole groups of chunks never wait on each other mid-loop, unlike one OpenMP barrier per op.
    """
    global _POOL
    n = min(MAX_WORKERS_CAP, torch.get_num_threads(), len(bounds)) if len(bounds) > 1 else 1
    if n <= 1 or CPU_CHUNK <= 0:
        return [_no_grad_call(work, bounds)]
    per = -(-len(bounds) // n)
    groups = [bounds[i:i + per] for i in range(0, len(bounds), per)]
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=MAX_WORKERS_CAP, thread_name_prefix="eventsnn-mtlif")
    futures = [_POOL.submit(_no_grad_call, work, g) for g in groups[1:]]
    first = _no_grad_call(work, groups[0])
    return [first] + [f.result() for f in futures]


def _reset_pool_after_fork() -> None:  # threads do not survive fork (DataLoader workers)
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _no_grad_call(work, arg):
    with torch.no_grad():  # grad mode is thread-local: worker threads start with it enabled
        return work(arg)



# ----------------------------------------------------------------------------------------------
# MT-LIF: custom autograd Function with a hand-written BPTT loop
#
# Internally the membrane is shifted by v_rest (u' = u - v_rest) so the leak is towards 0: the
# charge is one torch.lerp (decay_input) or one add per step and the hard reset multiplies by
# the "no spike" mask. Only h' (the charged membrane before reset, [T, ...]), w and, when
# given, the initial state are saved for backward (SpikingJelly 2.0 also saves the input).
#
# Both passes run the same way: the Function builds the per-call constants (_MTLIFConstants)
# and row views of its tensors (_ForwardViews / _BackwardViews), then _run_chunks runs
# _forward_work / _backward_work over the chunks of rows; each chunk's time loop is a sequence
# of small step functions writing into those views.


def _add_scaled(out: torch.Tensor, a: torch.Tensor, d: torch.Tensor | float) -> None:
    """``out += a * d`` for a tensor or Python-float ``d``."""
    if isinstance(d, float):
        out.add_(a, alpha=d)
    else:
        out.addcmul_(a, d)


def _times_grad_s(g: torch.Tensor, gs_t: torch.Tensor | None) -> None:
    """``g *= dL/ds_t`` in place (``g = 0`` when the spikes get no gradient)."""
    if gs_t is None:
        g.zero_()
    else:
        g.mul_(gs_t)


@dataclass(frozen=True, slots=True)
class _MTLIFConstants:
    """What both passes of one MT-LIF call read at every step: the settings in shifted
    coordinates (membrane minus ``v_rest``) and the leak ``k = sigmoid(w)``, as a Python float
    (scalar ``w``) or as one value per row of the ``[B*C, S]`` row view (per-channel ``w``)."""

    p: MTLIFParams
    T: int
    per_channel: bool
    rest: float
    theta: float
    theta_s: float  # first threshold in shifted coordinates
    n: int
    soft: bool
    kf: torch.Tensor  # sigmoid(w) in the dtype of the data
    kscalar: float | None
    krows: torch.Tensor | None  # [B*C, 1]

    @classmethod
    def of(cls, p: MTLIFParams, w: torch.Tensor, seq: torch.Tensor) -> _MTLIFConstants:
        """The constants for weights ``w`` and a ``[T, B, ...]`` sequence ``seq``."""
        per_channel = w.ndim == 1
        kf = torch.sigmoid(w.detach()).to(seq.dtype)
        return cls(p=p, T=seq.shape[0], per_channel=per_channel, rest=p.v_rest,
                   theta=p.v_threshold, theta_s=p.v_threshold - p.v_rest, n=p.n_thresholds,
                   soft=p.reset == "soft", kf=kf, kscalar=None if per_channel else float(kf),
                   krows=kf.repeat(seq.shape[1]).unsqueeze(1) if per_channel else None)

    def k(self, a: int, b: int) -> torch.Tensor | float:
        """``k`` for rows ``a:b``."""
        return self.kscalar if self.krows is None else self.krows[a:b]

    def original(self, h: torch.Tensor) -> torch.Tensor:
        """A shifted membrane in original coordinates (where the thresholds are)."""
        return h + self.rest if self.rest != 0.0 else h


def _bounds_of(rows: torch.Tensor, c: _MTLIFConstants) -> list[tuple[int, int]]:
    """The chunks of a ``[T, rows(, S)]`` row view (:func:`_chunk_bounds`)."""
    return _chunk_bounds(rows.shape[1], rows.shape[2] if c.per_channel else 1, rows.device)


# ---------------------------------------------------------------------------------- forward


@dataclass(frozen=True, slots=True)
class _ForwardViews:
    """Row views (:func:`_rows_view`) of the forward's tensors: ``x``, ``s`` and ``h`` (``h'``,
    None when no gradient is needed) ``[T, rows(, S)]``, ``v_last`` and ``v0`` ``[rows(, S)]``."""

    x: torch.Tensor
    s: torch.Tensor
    h: torch.Tensor | None
    v_last: torch.Tensor
    v0: torch.Tensor | None


def _charge(ht: torch.Tensor, v: torch.Tensor | None, xt: torch.Tensor,
            k: torch.Tensor | float, omk: torch.Tensor | float, decay_input: bool) -> None:
    """Charge ``h'_t`` into ``ht`` from the shifted membrane ``v`` (None: at rest, the first
    step without ``v0``) and the input ``xt``."""
    if v is None:
        if decay_input:
            torch.mul(xt, k, out=ht)
        else:
            ht.copy_(xt)
    elif decay_input:
        torch.lerp(v, xt, k, out=ht)
    elif isinstance(omk, float):
        torch.add(xt, v, alpha=omk, out=ht)
    else:
        torch.addcmul(xt, v, omk, out=ht)


def _fire(c: _MTLIFConstants, ht: torch.Tensor, st: torch.Tensor) -> None:
    """Graded spikes of the charged membrane ``ht`` into ``st``."""
    if c.n == 1:
        torch.ge(ht, c.theta_s, out=st)
    else:
        graded(c.original(ht), c.theta, c.n, out=st)


def _reset(c: _MTLIFConstants, ht: torch.Tensor, st: torch.Tensor, v: torch.Tensor,
           gate: torch.Tensor | None) -> None:
    """Shifted membrane after the reset into ``v`` (``gate``: scratch for a hard reset, K > 1)."""
    if c.soft:
        torch.sub(ht, st, alpha=c.theta, out=v)
    else:  # v' = h' (1 - H(h - theta))
        m = st if c.n == 1 else torch.ge(ht, c.theta_s, out=gate)
        torch.addcmul(ht, ht, m, value=-1.0, out=v)


def _forward_chunk(c: _MTLIFConstants, fv: _ForwardViews, a: int, b: int,
                   gate_buf: torch.Tensor | None, hbuf: torch.Tensor | None) -> None:
    """The time loop over rows ``a:b``; ``v_last[a:b]`` holds the shifted membrane throughout."""
    k = c.k(a, b)
    omk = 1.0 - k
    v = fv.v_last[a:b]  # written in place every step; holds v' (shifted) at the end
    prev = None  # the membrane the next step charges from (None: at rest)
    if fv.v0 is not None:
        prev = torch.sub(fv.v0[a:b], c.rest, out=v)
    gate = None if gate_buf is None else gate_buf[: b - a]
    sc, xc = fv.s[:, a:b], fv.x[:, a:b]
    hc = fv.h[:, a:b] if fv.h is not None else None
    for t in range(c.T):
        st, ht = sc[t], (hc[t] if hc is not None else hbuf[: b - a])
        _charge(ht, prev, xc[t], k, omk, c.p.decay_input)
        _fire(c, ht, st)
        _reset(c, ht, st, v, gate)
        prev = v


def _forward_work(c: _MTLIFConstants, fv: _ForwardViews, chunks: list[tuple[int, int]]) -> None:
    """One worker's chunks, with scratch sized by the first (largest) chunk."""
    a0, b0 = chunks[0]
    gate_buf = torch.empty_like(fv.v_last[a0:b0]) if (not c.soft and c.n > 1) else None
    hbuf = None if fv.h is not None else torch.empty_like(fv.v_last[a0:b0])
    for a, b in chunks:
        _forward_chunk(c, fv, a, b, gate_buf, hbuf)


# --------------------------------------------------------------------------------- backward
#
# BPTT with G_t = dL/dh_t (one descending loop per chunk, chunk-sized scratch only):
#   G_t = grad_s_t * ds/dh_t + G_{t+1} * D_t,   D_t = (1-k) dv_t/dh_t
#   dv/dh = 1 - theta ds/dh (soft), (1 - m) - h' g(h - theta) (hard), with m = H(h - theta)
#   (the surrogate terms vanish with detach_reset);  dL/dv0 = (1-k) G_0
#   dL/dk = sum_t G_t dh'_t/dk,  dh'_t/dk = (h'_t - v'_{t-1})/k (decay_input) or -v'_{t-1}
#   dL/dx_t = k G_t (decay_input) or G_t


@dataclass(frozen=True, slots=True)
class _BackwardViews:
    """Row views of the backward's tensors: ``h`` (``h'`` saved by forward), ``G`` (``dL/dh``,
    then ``dL/dx`` in place) and ``gs`` (``dL/ds``, None) ``[T, rows(, S)]``; ``gv`` (``dL/dv_T``,
    None), ``v0`` (None) and ``gv0`` (``dL/dv0`` out, None) ``[rows(, S)]``; ``gk`` (per-channel
    ``dL/dk`` sums ``[rows]``); which gradients are wanted; the dtype ``dL/dk`` sums in."""

    h: torch.Tensor
    G: torch.Tensor
    gs: torch.Tensor | None
    gv: torch.Tensor | None
    v0: torch.Tensor | None
    gv0: torch.Tensor | None
    gk: torch.Tensor
    need_x: bool
    need_w: bool
    acc_dtype: torch.dtype


class _Scratch(NamedTuple):
    """One worker's buffers (rows of its first chunk): ``d`` (``D_t`` or the keep mask), ``tmp``,
    ``tmp2`` (for overlapping surrogate windows) and two alternating hard-reset masks."""

    d: torch.Tensor
    tmp: torch.Tensor
    tmp2: torch.Tensor | None
    masks: tuple[torch.Tensor, torch.Tensor] | None


@dataclass(frozen=True, slots=True)
class _ChunkGrad(_BackwardViews):
    """What the backward time loop of rows ``a:b`` reads and writes: those rows of the
    :class:`_BackwardViews` (``gk``: the worker's scalar accumulator when ``w`` is a scalar),
    ``k``, ``1-k`` and the scratch."""

    k: torch.Tensor | float
    omk: torch.Tensor | float
    scalar: bool  # k is a Python float
    d: torch.Tensor
    tmp: torch.Tensor
    tmp2: torch.Tensor | None
    masks: tuple[torch.Tensor, torch.Tensor] | tuple[None, None]


def _chunk_grad(c: _MTLIFConstants, bv: _BackwardViews, a: int, b: int, bufs: _Scratch,
                acc: torch.Tensor) -> _ChunkGrad:
    """Rows ``a:b`` of the backward views and scratch (``acc``: the worker's scalar ``dL/dk``)."""
    r = b - a
    k = c.k(a, b)
    omk = 1.0 - k
    return _ChunkGrad(
        h=bv.h[:, a:b], G=bv.G[:, a:b],
        gs=None if bv.gs is None else bv.gs[:, a:b],
        gv=None if bv.gv is None else bv.gv[a:b],
        v0=None if bv.v0 is None else bv.v0[a:b],
        gv0=None if bv.gv0 is None else bv.gv0[a:b],
        gk=acc if not c.per_channel else bv.gk[a:b],
        need_x=bv.need_x, need_w=bv.need_w, acc_dtype=bv.acc_dtype,
        k=k, omk=omk, scalar=isinstance(omk, float), d=bufs.d[:r], tmp=bufs.tmp[:r], tmp2=None if bufs.tmp2 is None else bufs.tmp2[:r],
        masks=(bufs.masks[0][:r], bufs.masks[1][:r]) if bufs.masks is not None else (None, None),
    )


def _fused_factor(c: _MTLIFConstants, ch: _ChunkGrad, ht: torch.Tensor, Gn: torch.Tensor,
                  gs_t: torch.Tensor | None) -> torch.Tensor:
    """The factor of ``sg`` in the fused update (into ``tmp``): ``gs - theta(1-k) Gn`` (soft)
    or ``gs - (1-k) h' Gn`` (hard), ``gs = 0`` when the spikes get no gradient."""
    tmp, omk = ch.tmp, ch.omk
    if c.soft:
        if gs_t is None:
            return torch.mul(Gn, -c.theta * omk, out=tmp)
        return torch.add(gs_t, Gn, alpha=-c.theta * omk, out=tmp)
    if gs_t is None:
        return torch.mul(ht, Gn, out=tmp).mul_(-omk)
    return torch.addcmul(gs_t, ht, Gn, value=-omk, out=tmp)


def _fused_step(c: _MTLIFConstants, ch: _ChunkGrad, Gt: torch.Tensor, Gn: torch.Tensor,
                ht: torch.Tensor, gs_t: torch.Tensor | None, mask_cur: torch.Tensor | None) -> None:
    """``G_t`` for a step with a successor, scalar ``k`` and a soft reset or K = 1, with
    ``Gn = G_{t+1}`` and ``sg = ds/dh`` (in ``G_t`` on entry)::

        soft: G_t = sg (gs - theta(1-k) Gn) + (1-k) Gn
        hard: G_t = sg (gs - (1-k) h' Gn) + (1-k)(1-m) Gn

    ``mask_cur``: ``1 - m_t`` when the ``dL/dk`` step of ``t+1`` computed it."""
    if c.p.detach_reset:
        _times_grad_s(Gt, gs_t)
    else:
        Gt.mul_(_fused_factor(c, ch, ht, Gn, gs_t))
    if c.soft:
        Gt.add_(Gn, alpha=ch.omk)
    else:  # keep mask 1 - m_t (computed at step t+1 for dL/dk when available)
        keep = mask_cur if mask_cur is not None else torch.lt(ht, c.theta_s, out=ch.d)
        Gt.addcmul_(keep, Gn, value=ch.omk)


def _membrane_factor(c: _MTLIFConstants, ch: _ChunkGrad, Gt: torch.Tensor, ht: torch.Tensor,
                     hh: torch.Tensor) -> torch.Tensor | float:
    """``D_t = (1-k) dv_t/dh_t`` (into ``d``, or a float), with ``ds/dh`` in ``Gt`` and ``hh``
    the membrane in original coordinates."""
    omk = ch.omk
    if c.soft:
        return omk if c.p.detach_reset else torch.mul(Gt, omk * -c.theta, out=ch.d).add_(omk)
    Dt = torch.lt(ht, c.theta_s, out=ch.d).mul_(omk)
    if not c.p.detach_reset:
        g1 = Gt if c.n == 1 else surrogate_into(hh, c.theta, c.p.surrogate, c.p.width, ch.tmp)
        if ch.scalar:
            Dt.addcmul_(ht, g1, value=-omk)
        else:
            Dt.addcmul_(ht, torch.mul(g1, omk, out=ch.tmp), value=-1.0)
    return Dt


def _general_step(c: _MTLIFConstants, ch: _ChunkGrad, Gt: torch.Tensor, Gn: torch.Tensor | None,
                  ht: torch.Tensor, hh: torch.Tensor, gs_t: torch.Tensor | None) -> None:
    """``G_t = gs_t ds/dh + G_{t+1} D_t`` (``Gn = G_{t+1}``; None at the last step, which adds
    ``dL/dv_T dv/dh`` instead), any ``k`` and reset, with ``ds/dh`` in ``G_t`` on entry."""
    Dt: torch.Tensor | float | None = None
    if Gn is not None or ch.gv is not None:
        Dt = _membrane_factor(c, ch, Gt, ht, hh)
    _times_grad_s(Gt, gs_t)
    if Gn is not None:
        _add_scaled(Gt, Gn, Dt)
    elif ch.gv is not None:  # + grad_v * dv/dh = grad_v * D / (1-k)
        if isinstance(Dt, float) or (c.soft and c.p.detach_reset):
            Gt.add_(ch.gv)
        else:
            Gt.addcmul_(ch.gv, Dt.div_(ch.omk))


def _previous_membrane_term(c: _MTLIFConstants, ch: _ChunkGrad, t: int, ht: torch.Tensor,
                            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``u_t`` (into ``tmp``) for ``t > 0`` and, for a hard reset, the mask ``1 - m_{t-1}`` it
    used (kept for step ``t-1``); ``v'_{t-1}`` comes from ``h'_{t-1}``."""
    hp = ch.h[t - 1]
    tmp = ch.tmp
    if c.soft:  # v'_{t-1} = h'_{t-1} - theta s_{t-1}
        graded(c.original(hp), c.theta, c.n, out=tmp)
        if c.p.decay_input:  # u = h' + theta s - h'_{t-1}
            torch.add(ht, tmp, alpha=c.theta, out=tmp).sub_(hp)
        else:  # u = theta s - h'_{t-1}
            tmp.mul_(c.theta).sub_(hp)
        return tmp, None
    # v'_{t-1} = h'_{t-1} (1 - m_{t-1}); keep the mask for step t-1
    mask = ch.masks[t % 2]
    torch.lt(hp, c.theta_s, out=mask)
    if c.p.decay_input:  # u = h'_t - (1 - m_{t-1}) h'_{t-1}
        torch.addcmul(ht, mask, hp, value=-1.0, out=tmp)
    else:
        torch.mul(mask, hp, out=tmp).neg_()
    return tmp, mask


def _initial_membrane_term(c: _MTLIFConstants, ch: _ChunkGrad, ht: torch.Tensor,
                           ) -> torch.Tensor | None:
    """``u_0`` with ``v'_{-1} = v0 - rest`` (None when it is 0)."""
    if ch.v0 is None:
        return ht if c.p.decay_input else None
    u = torch.sub(ht, ch.v0, out=ch.tmp) if c.p.decay_input else torch.neg(ch.v0, out=ch.tmp)
    if c.rest != 0.0:
        u.add_(c.rest)
    return u


def _accumulate_dk(c: _MTLIFConstants, ch: _ChunkGrad, t: int, ht: torch.Tensor, Gt: torch.Tensor,
                   acc_dtype: torch.dtype) -> torch.Tensor | None:
    """Add step ``t``'s ``dL/dk`` term ``sum G_t u_t`` to the chunk's accumulator, where
    ``u_t = dh'_t/dk * (k if decay_input)``: ``h'_t - v'_{t-1}`` (decay_input) or ``-v'_{t-1}``.
    Returns the hard-reset mask ``1 - m_{t-1}`` when one was computed."""
    mask = None
    if t > 0:
        u, mask = _previous_membrane_term(c, ch, t, ht)
    else:
        u = _initial_membrane_term(c, ch, ht)
    if u is not None:
        prod = torch.mul(u, Gt, out=ch.tmp)
        gkc = ch.gk
        gkc += prod.sum(1, dtype=acc_dtype) if c.per_channel else prod.sum(dtype=acc_dtype)
    return mask


def _backward_chunk(c: _MTLIFConstants, bv: _BackwardViews, a: int, b: int, bufs: _Scratch,
                    acc: torch.Tensor) -> None:
    """The descending time loop over rows ``a:b``: ``G`` becomes ``dL/dx`` in place, the
    ``dL/dk`` terms go to ``gk`` / ``acc``, ``dL/dv0`` to ``gv0``."""
    ch = _chunk_grad(c, bv, a, b, bufs, acc)
    scale_x = bv.need_x and c.p.decay_input
    mask_cur = None
    for t in range(c.T - 1, -1, -1):
        ht, Gt = ch.h[t], ch.G[t]
        Gn = ch.G[t + 1] if t < c.T - 1 else None
        hh = c.original(ht)
        graded_grad_into(hh, c.theta, c.n, c.p.surrogate, c.p.width, Gt, ch.tmp2)  # ds/dh
        gs_t = None if ch.gs is None else ch.gs[t]
        if Gn is not None and ch.scalar and (c.soft or c.n == 1):
            _fused_step(c, ch, Gt, Gn, ht, gs_t, mask_cur)
        else:
            _general_step(c, ch, Gt, Gn, ht, hh, gs_t)
        mask_cur = _accumulate_dk(c, ch, t, ht, Gt, bv.acc_dtype) if bv.need_w else None
        if Gn is not None and scale_x:  # G_{t+1} is final: dL/dx_{t+1}
            Gn.mul_(ch.k)
    if ch.gv0 is not None:
        torch.mul(ch.G[0], ch.omk, out=ch.gv0)
    if scale_x:
        ch.G[0].mul_(ch.k)


def _backward_work(c: _MTLIFConstants, bv: _BackwardViews,
                   chunks: list[tuple[int, int]]) -> torch.Tensor:
    """One worker's chunks; returns its scalar ``dL/dk`` sum (0 with per-channel ``w``)."""
    p = c.p
    proto = bv.h[0, chunks[0][0]:chunks[0][1]]
    bufs = _Scratch(
        torch.empty_like(proto), torch.empty_like(proto),
        torch.empty_like(proto) if c.n > 1 and not windows_disjoint(c.n, c.theta, p.surrogate, p.width) else None,
        (torch.empty_like(proto), torch.empty_like(proto)) if not c.soft and bv.need_w else None)
    acc = torch.zeros((), dtype=bv.acc_dtype, device=bv.h.device)
    for a, b in chunks:
        _backward_chunk(c, bv, a, b, bufs, acc)
    return acc


def _backward_views(c: _MTLIFConstants, h_seq: torch.Tensor, grad_s: torch.Tensor | None,
                    grad_v: torch.Tensor | None, v0: torch.Tensor | None, need_x: bool,
                    need_v0: bool, need_w: bool,
                    ) -> tuple[_BackwardViews, torch.Tensor, torch.Tensor | None]:
    """The backward's buffers and their row views; also ``G`` ``[T, B, C, ...]`` (``dL/dx`` when
    the loop is done) and ``dL/dv0`` ``[B, C, ...]`` (None)."""
    dtype, pc = h_seq.dtype, c.per_channel
    G = torch.empty_like(h_seq)
    hv, Gv = _rows_view(h_seq, 1, pc), _rows_view(G, 1, pc)
    gsv = None if grad_s is None else _rows_view(grad_s.to(dtype).expand_as(h_seq), 1, pc)
    gvv = None if grad_v is None else _rows_view(grad_v.to(dtype).expand_as(h_seq[0]), 0, pc)
    v0v = None if v0 is None else _rows_view(v0.detach().to(dtype).expand_as(h_seq[0]), 0, pc)
    grad_v0 = torch.empty_like(h_seq[0]) if need_v0 else None
    gv0v = None if grad_v0 is None else _rows_view(grad_v0, 0, pc)
    acc_dtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    gk = torch.zeros(hv.shape[1] if pc else (), dtype=acc_dtype, device=h_seq.device)
    views = _BackwardViews(h=hv, G=Gv, gs=gsv, gv=gvv, v0=v0v, gv0=gv0v, gk=gk, need_x=need_x,
                           need_w=need_w, acc_dtype=acc_dtype)
    return views, G, grad_v0


def _grad_w(c: _MTLIFConstants, bv: _BackwardViews, partial: list[torch.Tensor], batch: int,
            w: torch.Tensor) -> torch.Tensor:
    """``dL/dw`` from the ``dL/dk`` sums: per row (per-channel ``w``, rows are ``B*C``) or the
    workers' ``partial`` sums, added in chunk order (deterministic)."""
    gk = bv.gk.view(batch, -1).sum(0) if c.per_channel else torch.stack(partial).sum()
    kk = c.kf.to(bv.acc_dtype)
    if c.p.decay_input:
        gk = gk / kk
    return (gk * kk * (1.0 - kk)).to(w.dtype).reshape(w.shape)


class MTLIFFunction(torch.autograd.Function):
    """Multi-step MT-LIF: ``(x_seq [T, ...], v0 [...] or None, w, params) -> (s_seq, v_T)``.

    Forward runs the time loop without an autograd graph (2-5 torch ops per step writing into
    preallocated buffers, chunked over the neurons on CPU) and saves only ``h'`` (the charged
    membrane before reset, shifted by ``v_rest``), ``w`` and ``v0`` when given. Backward is a
    hand-written BPTT loop giving the gradients with respect to ``x_seq``, ``v0`` and ``w``.
    """

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor,  # type: ignore[override]
                p: MTLIFParams) -> tuple[torch.Tensor, torch.Tensor]:
        x_seq = x_seq.contiguous()
        c = _MTLIFConstants.of(p, w, x_seq)
        # without any gradient to compute (eval / no_grad) h' lives in a chunk-sized scratch
        keep_h = any(ctx.needs_input_grad)
        h_seq = torch.empty_like(x_seq) if keep_h else None
        spikes = torch.empty_like(x_seq)
        v_last = torch.empty_like(x_seq[0])
        pc = c.per_channel
        fv = _ForwardViews(
            x=_rows_view(x_seq, 1, pc), s=_rows_view(spikes, 1, pc),
            h=_rows_view(h_seq, 1, pc) if keep_h else None, v_last=_rows_view(v_last, 0, pc),
            v0=None if v0 is None else _rows_view(v0.detach().to(x_seq.dtype).expand_as(x_seq[0]), 0, pc))
        _run_chunks(functools.partial(_forward_work, c, fv), _bounds_of(fv.x, c))
        if c.rest != 0.0:
            v_last.add_(c.rest)
        ctx.p = p
        ctx.has_v0 = v0 is not None
        if not keep_h:
            return spikes, v_last
        if v0 is not None:
            ctx.save_for_backward(h_seq, w, v0)
        else:
            ctx.save_for_backward(h_seq, w)
        ctx.set_materialize_grads(False)
        return spikes, v_last

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None):  # type: ignore[override]
        saved = ctx.saved_tensors
        h_seq, w = saved[0], saved[1]
        v0 = saved[2] if ctx.has_v0 else None
        c = _MTLIFConstants.of(ctx.p, w, h_seq)
        need_x, need_v0, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        need_v0 = need_v0 and v0 is not None
        bv, G, grad_v0 = _backward_views(c, h_seq, grad_s, grad_v, v0, need_x, need_v0, need_w)
        partial = _run_chunks(functools.partial(_backward_work, c, bv), _bounds_of(bv.h, c))
        grad_w = _grad_w(c, bv, partial, h_seq.shape[1], w) if need_w else None
        if grad_v0 is not None:
            grad_v0 = grad_v0.to(v0.dtype)
        return (G if need_x else None), grad_v0, grad_w, None



# ----------------------------------------------------------------------------------------------
# first-order synaptic current (the state of the SCB, papers.md §1.4b)


def _dot_like(a: torch.Tensor, b: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """``sum(a * b)`` over ``[B, C, ...]`` steps: a scalar, or ``[C]`` when ``per_channel``.
    Half-precision inputs are accumulated in float32."""
    if a.dtype in (torch.float16, torch.bfloat16):
        a, b = a.float(), b.float()
    if not per_channel:
        return torch.mul(a, b).sum()
    return torch.mul(a, b).transpose(0, 1).reshape(a.shape[1], -1).sum(1)



class SynapseFunction(torch.autograd.Function):
    """``I[t] = alpha * I[t-1] + x[t]`` over ``[T, ...]`` with a hand-written backward.

    Inputs ``(x_seq [T, B, C, ...], i0 [B, C, ...] or None, a)`` with ``alpha = sigmoid(a)``
    (scalar or ``[C]``). Saves only the output sequence.
    """

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x_seq = x_seq.contiguous()
        alf = torch.sigmoid(a.detach()).to(x_seq.dtype)
        # a Python float for a scalar alpha (broadcasting a 0-dim tensor is a slow path on CPU)
        al = float(alf) if a.ndim == 0 else channel_view(alf, x_seq.ndim - 1)
        out = torch.empty_like(x_seq)
        prev = None if i0 is None else i0.detach().to(x_seq.dtype)
        for t in range(x_seq.shape[0]):
            if prev is None:
                out[t].copy_(x_seq[t])
            elif isinstance(al, float):
                torch.add(x_seq[t], prev, alpha=al, out=out[t])
            else:
                torch.addcmul(x_seq[t], prev, al, out=out[t])
            prev = out[t]
        ctx.has_i0 = i0 is not None
        if i0 is not None:
            ctx.save_for_backward(out, a, i0)
        else:
            ctx.save_for_backward(out, a)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        saved = ctx.saved_tensors
        out, a = saved[0], saved[1]
        i0 = saved[2] if ctx.has_i0 else None
        dtype = out.dtype
        per_channel = a.ndim == 1
        alf = torch.sigmoid(a.detach()).to(dtype)
        al = float(alf) if not per_channel else channel_view(alf, out.ndim - 1)
        g = grad_out.to(dtype).contiguous().clone()
        need_a = ctx.needs_input_grad[2]
        ga = torch.zeros_like(alf, dtype=torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype)
        for t in range(out.shape[0] - 1, -1, -1):
            if t < out.shape[0] - 1:  # dL/dI_t += alpha dL/dI_{t+1}
                if isinstance(al, float):
                    g[t].add_(g[t + 1], alpha=al)
                else:
                    g[t].addcmul_(g[t + 1], al)
            if need_a:  # dL/dalpha = sum_t dL/dI_t * I_{t-1}  (I_{-1} = i0)
                if t > 0:
                    ga += _dot_like(g[t], out[t - 1], per_channel)
                elif i0 is not None:
                    ga += _dot_like(g[0], i0.detach().to(dtype), per_channel)
        grad_a = None
        if need_a:
            grad_a = (ga * alf * (1.0 - alf)).to(a.dtype).reshape(a.shape)
        grad_i0 = None
        if ctx.has_i0 and ctx.needs_input_grad[1]:
            grad_i0 = (g[0] * al).to(i0.dtype)
        return g, grad_i0, grad_a
