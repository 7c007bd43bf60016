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

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

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


def _add_scaled(out: torch.Tensor, a: torch.Tensor, d: torch.Tensor | float) -> None:
    """``out += a * d`` for a tensor or Python-float ``d``."""
    if isinstance(d, float):
        out.add_(a, alpha=d)
    else:
        out.addcmul_(a, d)


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
        T = x_seq.shape[0]
        per_channel = w.ndim == 1
        rest = p.v_rest
        theta = p.v_threshold
        theta_s = theta - rest  # first threshold in shifted coordinates
        n = p.n_thresholds
        soft = p.reset == "soft"
        x_seq = x_seq.contiguous()
        dtype = x_seq.dtype
        kf = torch.sigmoid(w.detach()).to(dtype)
        kscalar = None if per_channel else float(kf)
        # without any gradient to compute (eval / no_grad) h' lives in a chunk-sized scratch
        keep_h = any(ctx.needs_input_grad)
        h_seq = torch.empty_like(x_seq) if keep_h else None
        spikes = torch.empty_like(x_seq)
        v_last = torch.empty_like(x_seq[0])
        xv, sv = (_rows_view(t, 1, per_channel) for t in (x_seq, spikes))
        hv = _rows_view(h_seq, 1, per_channel) if keep_h else None
        vl = _rows_view(v_last, 0, per_channel)
        v0v = None
        if v0 is not None:
            v0v = _rows_view(v0.detach().to(dtype).expand_as(x_seq[0]), 0, per_channel)
        krows = kf.repeat(x_seq.shape[1]).unsqueeze(1) if per_channel else None
        row_size = xv.shape[2] if per_channel else 1
        bounds = _chunk_bounds(xv.shape[1], row_size, x_seq.device)

        def work(chunks: list[tuple[int, int]]) -> None:
            a0, b0 = chunks[0]
            gate_buf = torch.empty_like(vl[a0:b0]) if (not soft and n > 1) else None
            hbuf = None if keep_h else torch.empty_like(vl[a0:b0])
            for a, b in chunks:
                _fwd_chunk(a, b, gate_buf, hbuf)

        def _fwd_chunk(a: int, b: int, gate_buf: torch.Tensor | None,
                       hbuf: torch.Tensor | None) -> None:
            k = kscalar if krows is None else krows[a:b]
            omk = 1.0 - k
            v = vl[a:b]  # written in place every step; holds v' (shifted) at the end
            if v0v is not None:
                torch.sub(v0v[a:b], rest, out=v)
                first = False
            else:
                first = True
            gate = None if gate_buf is None else gate_buf[: b - a]
            sc, xc = sv[:, a:b], xv[:, a:b]
            hc = hv[:, a:b] if hv is not None else None
            for t in range(T):
                st, xt = sc[t], xc[t]
                ht = hc[t] if hc is not None else hbuf[: b - a]
                # charge (shifted coordinates, rest = 0)
                if first:
                    if p.decay_input:
                        torch.mul(xt, k, out=ht)
                    else:
                        ht.copy_(xt)
                    first = False
                elif p.decay_input:
                    torch.lerp(v, xt, k, out=ht)
                elif isinstance(omk, float):
                    torch.add(xt, v, alpha=omk, out=ht)
                else:
                    torch.addcmul(xt, v, omk, out=ht)
                # fire
                if n == 1:
                    torch.ge(ht, theta_s, out=st)
                else:
                    graded(ht + rest if rest != 0.0 else ht, theta, n, out=st)
                # reset
                if soft:
                    torch.sub(ht, st, alpha=theta, out=v)
                else:  # v' = h' (1 - H(h - theta))
                    m = st if n == 1 else torch.ge(ht, theta_s, out=gate)
                    torch.addcmul(ht, ht, m, value=-1.0, out=v)
            if T == 0 and v0v is None:
                v.zero_()
        _run_chunks(work, bounds)
        if rest != 0.0:
            v_last.add_(rest)
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
        # BPTT with G_t = dL/dh_t (one descending loop per chunk, chunk-sized scratch only):
        #   G_t = grad_s_t * ds/dh_t + G_{t+1} * D_t,   D_t = (1-k) dv_t/dh_t
        #   dv/dh = 1 - theta ds/dh (soft), (1 - m) - h' g(h - theta) (hard), with m = H(h - theta)
        #   (the surrogate terms vanish with detach_reset);  dL/dv0 = (1-k) G_0
        #   dL/dk = sum_t G_t dh'_t/dk,  dh'_t/dk = (h'_t - v'_{t-1})/k (decay_input) or -v'_{t-1}
        #   dL/dx_t = k G_t (decay_input) or G_t
        p: MTLIFParams = ctx.p
        saved = ctx.saved_tensors
        h_seq, w = saved[0], saved[1]
        v0 = saved[2] if ctx.has_v0 else None
        per_channel = w.ndim == 1
        T = h_seq.shape[0]
        rest = p.v_rest
        theta = p.v_threshold
        theta_s = theta - rest
        n = p.n_thresholds
        soft = p.reset == "soft"
        dtype = h_seq.dtype
        kf = torch.sigmoid(w.detach()).to(dtype)
        kscalar = None if per_channel else float(kf)
        need_x, need_v0, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        need_v0 = need_v0 and v0 is not None

        G = torch.empty_like(h_seq)
        hv, Gv = _rows_view(h_seq, 1, per_channel), _rows_view(G, 1, per_channel)
        gsv = None if grad_s is None else _rows_view(grad_s.to(dtype).expand_as(h_seq), 1, per_channel)
        gvv = None if grad_v is None else _rows_view(grad_v.to(dtype).expand_as(h_seq[0]), 0, per_channel)
        v0v = None if v0 is None else _rows_view(v0.detach().to(dtype).expand_as(h_seq[0]), 0, per_channel)
        grad_v0 = torch.empty_like(h_seq[0]) if need_v0 else None
        gv0v = None if grad_v0 is None else _rows_view(grad_v0, 0, per_channel)
        krows = kf.repeat(h_seq.shape[1]).unsqueeze(1) if per_channel else None
        acc_dtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
        gk = torch.zeros(hv.shape[1] if per_channel else (), dtype=acc_dtype, device=h_seq.device)
        row_size = hv.shape[2] if per_channel else 1
        bounds = _chunk_bounds(hv.shape[1], row_size, h_seq.device)
        def work(chunks: list[tuple[int, int]]) -> torch.Tensor:
            proto = hv[0, chunks[0][0]:chunks[0][1]]
            bufs = (torch.empty_like(proto), torch.empty_like(proto),
                    torch.empty_like(proto) if n > 1 and not windows_disjoint(n, theta, p.surrogate, p.width) else None,
                    (torch.empty_like(proto), torch.empty_like(proto)) if not soft and need_w else None)
            acc = torch.zeros((), dtype=acc_dtype, device=h_seq.device)
            for a, b in chunks:
                _bwd_chunk(a, b, bufs, acc)
            return acc

        def _bwd_chunk(a: int, b: int, bufs: tuple, acc: torch.Tensor) -> None:
            dbuf_full, tmp_full, tmp2_full, mask_full = bufs
            r = b - a
            dbuf, tmp = dbuf_full[:r], tmp_full[:r]
            tmp2 = None if tmp2_full is None else tmp2_full[:r]
            k = kscalar if krows is None else krows[a:b]
            omk = 1.0 - k
            scalar = isinstance(omk, float)
            gkc = acc if not per_channel else gk[a:b]
            masks = (mask_full[0][:r], mask_full[1][:r]) if mask_full is not None else (None, None)
            mask_cur = None
            hc, Gc = hv[:, a:b], Gv[:, a:b]
            gsc = None if gsv is None else gsv[:, a:b]
            for t in range(T - 1, -1, -1):
                ht = hc[t]
                hh = ht + rest if rest != 0.0 else ht  # original coordinates for the thresholds
                Gt = Gc[t]
                graded_grad_into(hh, theta, n, p.surrogate, p.width, Gt, tmp2)  # G_t <- ds/dh
                has_next = t < T - 1
                gs_t = None if gsc is None else gsc[t]
                if has_next and scalar and (soft or n == 1):
                    # fused update (scalar k): with Gn = G_{t+1}, sg = ds/dh (now in G_t)
                    #   soft: G_t = sg (gs - theta(1-k) Gn) + (1-k) Gn
                    #   hard: G_t = sg (gs - (1-k) h' Gn) + (1-k)(1-m) Gn
                    Gn = Gc[t + 1]
                    if p.detach_reset:
                        if gs_t is None:
                            Gt.zero_()
                        else:
                            Gt.mul_(gs_t)
                    else:
                        if soft:
                            if gs_t is None:
                                torch.mul(Gn, -theta * omk, out=tmp)
                            else:
                                torch.add(gs_t, Gn, alpha=-theta * omk, out=tmp)
                        elif gs_t is None:
                            torch.mul(ht, Gn, out=tmp).mul_(-omk)
                        else:
                            torch.addcmul(gs_t, ht, Gn, value=-omk, out=tmp)
                        Gt.mul_(tmp)
                    if soft:
                        Gt.add_(Gn, alpha=omk)
                    else:  # keep mask 1 - m_t (computed at step t+1 for dL/dk when available)
                        keep = mask_cur if mask_cur is not None else torch.lt(ht, theta_s, out=dbuf)
                        Gt.addcmul_(keep, Gn, value=omk)
                else:
                    Dt: torch.Tensor | float | None = None
                    if has_next or gvv is not None:
                        if soft:
                            Dt = omk if p.detach_reset else torch.mul(Gt, omk * -theta, out=dbuf).add_(omk)
                        else:
                            Dt = torch.lt(ht, theta_s, out=dbuf).mul_(omk)
                            if not p.detach_reset:
                                g1 = Gt if n == 1 else surrogate_into(hh, theta, p.surrogate, p.width, tmp)
                                if scalar:
                                    Dt.addcmul_(ht, g1, value=-omk)
                                else:
                                    Dt.addcmul_(ht, torch.mul(g1, omk, out=tmp), value=-1.0)
                    if gs_t is None:
                        Gt.zero_()
                    else:
                        Gt.mul_(gs_t)
                    if has_next:
                        _add_scaled(Gt, Gc[t + 1], Dt)
                    elif gvv is not None:  # + grad_v * dv/dh = grad_v * D / (1-k)
                        if isinstance(Dt, float) or (soft and p.detach_reset):
                            Gt.add_(gvv[a:b])
                        else:
                            Gt.addcmul_(gvv[a:b], Dt.div_(omk))
                mask_cur = None
                if need_w:  # dL/dk of step t: sum G_t u_t, u_t = dh'_t/dk * (k if decay_input)
                    # u_t = h'_t - v'_{t-1} (decay_input) or -v'_{t-1};  v'_{-1} = v0 - rest
                    if t > 0:
                        hp = hc[t - 1]
                        if soft:  # v'_{t-1} = h'_{t-1} - theta s_{t-1}
                            graded(hp + rest if rest != 0.0 else hp, theta, n, out=tmp)
                            if p.decay_input:  # u = h' + theta s - h'_{t-1}
                                torch.add(ht, tmp, alpha=theta, out=tmp).sub_(hp)
                            else:  # u = theta s - h'_{t-1}
                                tmp.mul_(theta).sub_(hp)
                        else:  # v'_{t-1} = h'_{t-1} (1 - m_{t-1}); keep the mask for step t-1
                            mask_cur = masks[t % 2]
                            torch.lt(hp, theta_s, out=mask_cur)
                            if p.decay_input:  # u = h'_t - (1 - m_{t-1}) h'_{t-1}
                                torch.addcmul(ht, mask_cur, hp, value=-1.0, out=tmp)
                            else:
                                torch.mul(mask_cur, hp, out=tmp).neg_()
                        u = tmp
                    elif v0v is not None:
                        u = torch.sub(ht, v0v[a:b], out=tmp) if p.decay_input else torch.neg(v0v[a:b], out=tmp)
                        if rest != 0.0:
                            u.add_(rest)
                    else:
                        u = ht if p.decay_input else None
                    if u is not None:
                        prod = torch.mul(u, Gt, out=tmp)
                        gkc += prod.sum(1, dtype=acc_dtype) if per_channel else prod.sum(dtype=acc_dtype)
                else:
                    mask_cur = None
                if has_next and need_x and p.decay_input:  # G_{t+1} is final: dL/dx_{t+1}
                    Gc[t + 1].mul_(k)
            if T > 0:
                if gv0v is not None:
                    torch.mul(Gc[0], omk, out=gv0v[a:b])
                if need_x and p.decay_input:
                    Gc[0].mul_(k)
        partial = _run_chunks(work, bounds)  # in chunk order: deterministic sum
        if need_w and not per_channel:
            gk = torch.stack(partial).sum()
        grad_w = None
        if need_w:
            if per_channel:
                gk = gk.view(h_seq.shape[1], -1).sum(0)
            kk = kf.to(acc_dtype)
            if p.decay_input:
                gk = gk / kk
            grad_w = (gk * kk * (1.0 - kk)).to(w.dtype).reshape(w.shape)
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
