"""Multi-threshold LIF (MT-LIF) dynamics and surrogate gradients as pure functions.

Reconstruction of Xu et al. (2022), ``papers.md`` §1.4c. Modules in :mod:`eventsnn.nn` wrap these
functions; nothing here keeps state.

Neuron (one time step, membrane ``v`` in the same units as the input current ``x``)::

    k = sigmoid(w) = 1 / tau                                  (PLIF parametrisation)
    h = v + k * (x - (v - v_rest))          if decay_input    (charge)
    h = v - k * (v - v_rest) + x            otherwise
    s = clip(floor(h / theta), 0, K)        graded spike in {0..K}; K = 1: s = H(h - theta)
    v = h - theta * s                       reset == "soft"
    v = v_reset where s > 0, else h         reset == "hard"

``v_rest`` is ``v_reset`` for a hard reset and 0 for a soft reset, exactly as SpikingJelly's
``ParametricLIFNode`` (``v_reset=None`` there means soft reset), so ``K = 1`` reproduces it.

Surrogate gradient: ``ds/dh = sum_{k=1..K} g(h - k*theta)`` where ``g`` is one of
:data:`SURROGATES`. Every ``g`` integrates to 1 and peaks at ``1 / width`` (``width`` in membrane
units): rectangular ``1[|x| < width/2] / width``, triangular ``max(0, 1 - |x|/width) / width``,
arctan = SpikingJelly ``ATan(alpha=2/width)``, sigmoid = SpikingJelly ``Sigmoid(alpha=4/width)``
(``width=1`` gives SpikingJelly's defaults). With a hard reset the reset gate ``H(h - theta)``
uses ``g(h - theta)``. ``detach_reset`` cuts the gradient through the reset (as SpikingJelly).

``w`` is a scalar (one tau per layer) or a vector of ``C`` values (one tau per channel), broadcast
on the channel dimension: dim 2 of ``[T, B, C, ...]`` sequences, dim 1 of ``[B, C, ...]`` steps.

Two implementations of the multi-step dynamics over ``[T, ...]`` give the same values and
gradients: :func:`mtlif_multistep_reference` (plain autograd over the time loop, the readable
definition) and :func:`mtlif_multistep` (a custom :class:`torch.autograd.Function` that runs the
time loop without building a graph, saves only the charged membrane ``h[t]`` and runs a
hand-written BPTT loop in backward). Both are device-agnostic (CPU and CUDA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from eventsnn.errors import InvalidParameterError

__all__ = [
    "SURROGATES",
    "MTLIFParams",
    "surrogate_grad",
    "spike_fn",
    "init_w",
    "tau_from_w",
    "mtlif_step",
    "mtlif_multistep",
    "mtlif_multistep_reference",
    "synapse_multistep",
    "synapse_multistep_reference",
    "synapse_step",
]

SURROGATES: tuple[str, ...] = ("rectangular", "triangular", "arctan", "sigmoid")
SurrogateName = Literal["rectangular", "triangular", "arctan", "sigmoid"]
ResetMode = Literal["soft", "hard"]


@dataclass(frozen=True)
class MTLIFParams:
    """Static (non-tensor) settings of an MT-LIF layer.

    Attributes:
        n_thresholds: K >= 1; graded spikes take values in {0..K}.
        v_threshold: theta > 0, the first threshold (membrane units); thresholds are theta..K*theta.
        reset: "soft" (subtract theta*s) or "hard" (set to ``v_reset`` where s > 0).
        v_reset: reset and rest potential of the hard reset (ignored by the soft reset, whose
            rest potential is 0).
        surrogate: one of :data:`SURROGATES`.
        width: surrogate width in membrane units (> 0).
        decay_input: charge ``h = v + k(x - v)`` (True) or ``h = (1-k) v + x`` (False).
        detach_reset: no gradient through the reset.
    """

    n_thresholds: int = 1
    v_threshold: float = 1.0
    reset: ResetMode = "soft"
    v_reset: float = 0.0
    surrogate: SurrogateName = "rectangular"
    width: float = 1.0
    decay_input: bool = True
    detach_reset: bool = False

    def __post_init__(self) -> None:
        if int(self.n_thresholds) != self.n_thresholds or self.n_thresholds < 1:
            raise InvalidParameterError(f"n_thresholds must be an integer >= 1, got {self.n_thresholds}")
        if not (self.v_threshold > 0 and math.isfinite(self.v_threshold)):
            raise InvalidParameterError(f"v_threshold must be a finite number > 0, got {self.v_threshold}")
        if self.reset not in ("soft", "hard"):
            raise InvalidParameterError(f"reset must be 'soft' or 'hard', got {self.reset!r}")
        if not math.isfinite(self.v_reset):
            raise InvalidParameterError(f"v_reset must be finite, got {self.v_reset}")
        if self.reset == "hard" and self.v_reset >= self.v_threshold:
            raise InvalidParameterError(
                f"v_reset ({self.v_reset}) must be below v_threshold ({self.v_threshold})"
            )
        if self.surrogate not in SURROGATES:
            raise InvalidParameterError(
                f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}"
            )
        if not (self.width > 0 and math.isfinite(self.width)):
            raise InvalidParameterError(f"surrogate width must be a finite number > 0, got {self.width}")

    @property
    def v_rest(self) -> float:
        """Potential the membrane leaks towards (and starts at)."""
        return self.v_reset if self.reset == "hard" else 0.0


# ----------------------------------------------------------------------------------------------
# tau parametrisation


def init_w(init_tau: float) -> float:
    """``w0 = -ln(tau0 - 1)`` so that ``sigmoid(w0) = 1 / tau0`` (requires ``tau0 > 1``)."""
    if not init_tau > 1.0:
        raise InvalidParameterError(f"init_tau must be > 1, got {init_tau}")
    return -math.log(init_tau - 1.0)


def tau_from_w(w: torch.Tensor) -> torch.Tensor:
    """Membrane time constant(s) ``tau = 1 / sigmoid(w)`` (in time steps)."""
    return 1.0 / torch.sigmoid(w)


def _channel_view(k: torch.Tensor, step_ndim: int) -> torch.Tensor:
    """Shape a scalar or ``[C]`` tensor to broadcast on dim 1 of a ``[B, C, ...]`` step."""
    if k.ndim == 0:
        return k
    if k.ndim != 1:
        raise InvalidParameterError(f"w must be a scalar or a [C] vector, got shape {tuple(k.shape)}")
    if step_ndim < 2:
        raise InvalidParameterError("per-channel tau needs inputs of shape [B, C, ...]")
    return k.view(-1, *([1] * (step_ndim - 2)))


# ----------------------------------------------------------------------------------------------
# surrogate gradients


def surrogate_grad(x: torch.Tensor, name: str, width: float) -> torch.Tensor:
    """Surrogate derivative ``g(x)`` of the Heaviside step at ``x = h - threshold``.

    Every shape integrates to 1 and peaks at ``1 / width``. Returns a tensor shaped like ``x``.
    """
    if name == "rectangular":
        return (x.abs() < 0.5 * width).to(x.dtype) * (1.0 / width)
    if name == "triangular":
        return (1.0 - x.abs() * (1.0 / width)).clamp_min_(0.0) * (1.0 / width)
    if name == "arctan":  # SpikingJelly ATan(alpha = 2 / width)
        alpha = 2.0 / width
        z = x * (math.pi / 2 * alpha)
        return (alpha / 2) / (1 + z * z)
    if name == "sigmoid":  # SpikingJelly Sigmoid(alpha = 4 / width)
        alpha = 4.0 / width
        s = torch.sigmoid(alpha * x)
        return (1 - s) * s * alpha
    raise InvalidParameterError(f"surrogate must be one of {SURROGATES}, got {name!r}")


def _graded(h: torch.Tensor, theta: float, n: int) -> torch.Tensor:
    """Forward spike value ``clip(floor(h/theta), 0, K)``; ``H(h - theta)`` for K = 1."""
    if n == 1:
        return (h >= theta).to(h.dtype)
    return torch.floor_divide(h, theta).clamp_(0, n)


def _graded_grad(h: torch.Tensor, theta: float, n: int, name: str, width: float) -> torch.Tensor:
    """``ds/dh = sum_{k=1..K} g(h - k*theta)``."""
    g = surrogate_grad(h - theta, name, width)
    for j in range(2, n + 1):
        g = g + surrogate_grad(h - j * theta, name, width)
    return g


class _SpikeFunction(torch.autograd.Function):
    """Graded spike with a surrogate gradient (used by the reference implementation)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, theta: float, n: int, name: str, width: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(h)
        ctx.cfg = (theta, n, name, width)
        return _graded(h, theta, n)

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        theta, n, name, width = ctx.cfg
        return grad_s * _graded_grad(h, theta, n, name, width), None, None, None, None


def spike_fn(
    h: torch.Tensor, v_threshold: float = 1.0, n_thresholds: int = 1,
    surrogate: str = "rectangular", width: float = 1.0,
) -> torch.Tensor:
    """Graded spikes ``clip(floor(h/theta), 0, K)`` with the summed surrogate gradient."""
    return _SpikeFunction.apply(h, v_threshold, n_thresholds, surrogate, width)


# ----------------------------------------------------------------------------------------------
# reference (autograd) implementation


def mtlif_step(
    x: torch.Tensor, v: torch.Tensor, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MT-LIF step with autograd: ``x, v: [B, C, ...]`` -> ``(s, v_next)``, same shapes.

    Used by single-step mode and by the reference multi-step implementation.
    """
    k = _channel_view(torch.sigmoid(w), x.ndim)
    rest = p.v_rest
    if p.decay_input:
        h = v + k * (x - (v - rest))
    else:
        h = v - k * (v - rest) + x
    s = spike_fn(h, p.v_threshold, p.n_thresholds, p.surrogate, p.width)
    if p.reset == "soft":
        s_r = s.detach() if p.detach_reset else s
        v_next = h - p.v_threshold * s_r
    else:
        # reset gate H(h - theta) with the surrogate of the first threshold
        gate = s if p.n_thresholds == 1 else spike_fn(h, p.v_threshold, 1, p.surrogate, p.width)
        if p.detach_reset:
            gate = gate.detach()
        v_next = (1.0 - gate) * h + gate * p.v_reset
    return s, v_next


def mtlif_multistep_reference(
    x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference multi-step MT-LIF (a Python loop over :func:`mtlif_step`, plain autograd).

    Args:
        x_seq: input current ``[T, B, C, ...]`` (or ``[T, N]`` with a scalar ``w``).
        v0: initial membrane ``[B, C, ...]``, or None for ``v_rest`` everywhere.
        w: scalar or ``[C]`` parameter, ``1/tau = sigmoid(w)``.
    Returns:
        ``(spikes [T, B, C, ...] in {0..K}, final membrane [B, C, ...])``.
    """
    v = torch.full_like(x_seq[0], p.v_rest) if v0 is None else v0
    out = []
    for t in range(x_seq.shape[0]):
        s, v = mtlif_step(x_seq[t], v, w, p)
        out.append(s)
    return torch.stack(out), v


# ----------------------------------------------------------------------------------------------
# fast implementation: custom autograd Function with a hand-written BPTT loop
#
# Internally the membrane is shifted by v_rest (u' = u - v_rest) so the leak is towards 0, the
# charge is one torch.lerp (decay_input) or one addcmul per step, and the hard reset is a
# masked fill with 0. Only h' (the charged membrane before reset, [T, ...]) and, when given, the
# initial state are saved for backward.


def _reduce_like(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Sum a ``[T, B, C, ...]`` tensor down to the shape of ``w`` (scalar or ``[C]``)."""
    if w.ndim == 0:
        return g.sum()
    return g.transpose(0, 2).reshape(g.shape[2], -1).sum(1)


def _dot_like(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``sum(a * b)`` reduced to the shape of ``w`` without a full-size temporary when scalar."""
    if w.ndim == 0:
        return torch.dot(a.reshape(-1), b.reshape(-1))
    c = a.shape[2]
    return torch.einsum("tbcn,tbcn->c", a.reshape(a.shape[0], a.shape[1], c, -1),
                        b.reshape(b.shape[0], b.shape[1], c, -1))


class MTLIFFunction(torch.autograd.Function):
    """Multi-step MT-LIF: ``(x_seq [T, ...], v0 [...] or None, w, params) -> (s_seq, v_T)``.

    Forward runs the time loop under no_grad; backward is a hand-written BPTT loop giving the
    gradients with respect to ``x_seq``, ``v0`` (when it requires grad) and ``w``.
    """

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor,  # type: ignore[override]
                p: MTLIFParams) -> tuple[torch.Tensor, torch.Tensor]:
        T = x_seq.shape[0]
        rest = p.v_rest
        theta_s = p.v_threshold - rest  # first threshold in shifted coordinates
        x_seq = x_seq.contiguous()
        k = _channel_view(torch.sigmoid(w.detach()).to(x_seq.dtype), x_seq.ndim - 1)
        h_seq = torch.empty_like(x_seq)
        soft = p.reset == "soft"
        n = p.n_thresholds
        spikes = torch.empty_like(x_seq) if soft else None
        if v0 is None:
            v = None
        else:
            v = v0.detach().to(x_seq.dtype)
            v = v - rest if rest != 0.0 else v
        one_m_k = None if p.decay_input else (1.0 - k)
        for t in range(T):
            ht = h_seq[t]
            if v is None:  # v' = 0
                if p.decay_input:
                    torch.mul(x_seq[t], k, out=ht)
                else:
                    ht.copy_(x_seq[t])
            elif p.decay_input:
                torch.lerp(v, x_seq[t], k, out=ht)
            else:
                torch.addcmul(x_seq[t], v, one_m_k, out=ht)
            if soft:
                st = spikes[t]
                if n == 1:
                    torch.ge(ht, theta_s, out=st)
                else:
                    torch.floor_divide(ht, p.v_threshold, out=st).clamp_(0, n)
                v = torch.sub(ht, st, alpha=p.v_threshold)
            else:
                v = ht.masked_fill(ht >= theta_s, 0.0)
        if not soft:  # graded spikes of all steps at once from h (in original coordinates)
            hh = h_seq + rest if rest != 0.0 else h_seq
            spikes = _graded(hh, p.v_threshold, n)
        v_last = v + rest if rest != 0.0 else v
        ctx.p = p
        ctx.has_v0 = v0 is not None
        ctx.v0_needs_grad = v0 is not None and v0.requires_grad
        ctx.w_shape_dtype = (w.shape, w.dtype)
        if v0 is not None:
            ctx.save_for_backward(h_seq, w, v0)
        else:
            ctx.save_for_backward(h_seq, w)
        return spikes, v_last

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None):  # type: ignore[override]
        p: MTLIFParams = ctx.p
        saved = ctx.saved_tensors
        h_seq, w = saved[0], saved[1]
        v0 = saved[2] if ctx.has_v0 else None
        T = h_seq.shape[0]
        rest = p.v_rest
        theta = p.v_threshold
        theta_s = theta - rest
        n = p.n_thresholds
        soft = p.reset == "soft"
        dtype = h_seq.dtype
        kf = torch.sigmoid(w.detach()).to(dtype)
        k = _channel_view(kf, h_seq.ndim - 1)
        one_m_k = 1.0 - k

        # surrogate ds/dh on the whole sequence (in original coordinates)
        hh = h_seq + rest if rest != 0.0 else h_seq
        sg = _graded_grad(hh, theta, n, p.surrogate, p.width)
        # dv/dh (None means 1)
        if soft:
            dvdh = None if p.detach_reset else torch.mul(sg, -theta).add_(1.0)
        else:
            keep = (h_seq < theta_s).to(dtype)  # 1 - gate
            if p.detach_reset:
                dvdh = keep
            else:
                g1 = sg if n == 1 else surrogate_grad(hh - theta, p.surrogate, p.width)
                # d/dh [(1-m) h'] with m = H(h - theta): (1-m) - h' g1
                dvdh = torch.addcmul(keep, h_seq, g1, value=-1.0)
                del g1
        # gradient reaching h from the spike output: A = grad_s * sg (sg reused in place)
        gh = torch.zeros_like(h_seq) if grad_s is None else sg.mul_(grad_s)
        del sg
        del hh
        # BPTT: gh_t = A_t + gv_t * dvdh_t ; gv_{t-1} = (1-k) gh_t
        gv = None if grad_v is None else grad_v.to(dtype)
        for t in range(T - 1, -1, -1):
            if gv is not None:
                if dvdh is None:
                    gh[t].add_(gv)
                else:
                    gh[t].addcmul_(gv, dvdh[t])
            gv = gh[t] * one_m_k
        del dvdh
        # gradient wrt k: sum_t gh_t * dh'_t/dk
        need_w = ctx.needs_input_grad[2]
        grad_w = None
        if need_w:
            # v'_{t-1} for t >= 1 from h'_{t-1}; v'_{-1} = v0 - rest (or 0)
            if soft:
                s_prev = _graded(h_seq[:-1] + rest if rest != 0.0 else h_seq[:-1], theta, n)
                v_prev = torch.sub(h_seq[:-1], s_prev, alpha=theta)
                del s_prev
            else:
                v_prev = h_seq[:-1].masked_fill(h_seq[:-1] >= theta_s, 0.0)
            if p.decay_input:
                # dh'/dk = x - v' = (h' - v'_{t-1}) / k
                gk = _dot_like(gh, h_seq, w)
                if T > 1:
                    gk = gk - _dot_like(gh[1:], v_prev, w)
                if v0 is not None:
                    v0s = v0.detach().to(dtype) - rest
                    gk = gk - _dot_like(gh[:1], v0s.unsqueeze(0), w)
                gk = gk / kf
            else:
                # dh'/dk = -v'_{t-1}
                gk = torch.zeros_like(kf)
                if T > 1:
                    gk = gk - _dot_like(gh[1:], v_prev, w)
                if v0 is not None:
                    v0s = v0.detach().to(dtype) - rest
                    gk = gk - _dot_like(gh[:1], v0s.unsqueeze(0), w)
            grad_w = (gk * kf * (1.0 - kf)).to(w.dtype).reshape(w.shape)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = gh.mul_(k) if p.decay_input else gh
        grad_v0 = None
        if ctx.has_v0 and ctx.needs_input_grad[1]:
            grad_v0 = gv if gv is not None else torch.zeros_like(v0)
        return grad_x, grad_v0, grad_w, None


def mtlif_multistep(
    x_seq: torch.Tensor, v0: torch.Tensor | None, w: torch.Tensor, p: MTLIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast multi-step MT-LIF (custom autograd Function); same contract as
    :func:`mtlif_multistep_reference`: ``x_seq [T, B, C, ...]`` -> ``(spikes, v_T [B, C, ...])``.
    """
    if x_seq.ndim < 2:
        raise InvalidParameterError(f"x_seq must be [T, B, ...], got shape {tuple(x_seq.shape)}")
    if w.ndim == 1 and (x_seq.ndim < 3 or x_seq.shape[2] != w.shape[0]):
        raise InvalidParameterError(
            f"per-channel w has {w.shape[0]} channels but x_seq {tuple(x_seq.shape)} has dim 2 "
            f"= {x_seq.shape[2] if x_seq.ndim > 2 else None}"
        )
    return MTLIFFunction.apply(x_seq, v0, w, p)


# ----------------------------------------------------------------------------------------------
# first-order synaptic current (the state of the SCB, papers.md §1.4b)


def _alpha_view(alpha: torch.Tensor, step_ndim: int) -> torch.Tensor:
    return _channel_view(alpha, step_ndim)


class SynapseFunction(torch.autograd.Function):
    """``I[t] = alpha * I[t-1] + x[t]`` over ``[T, ...]`` with a hand-written backward.

    Inputs ``(x_seq [T, B, C, ...], i0 [B, C, ...] or None, a)`` with ``alpha = sigmoid(a)``
    (scalar or ``[C]``). Saves only the output sequence.
    """

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x_seq = x_seq.contiguous()
        al = _alpha_view(torch.sigmoid(a.detach()).to(x_seq.dtype), x_seq.ndim - 1)
        out = torch.empty_like(x_seq)
        prev = None if i0 is None else i0.detach().to(x_seq.dtype)
        for t in range(x_seq.shape[0]):
            if prev is None:
                out[t].copy_(x_seq[t])
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
        alf = torch.sigmoid(a.detach()).to(dtype)
        al = _alpha_view(alf, out.ndim - 1)
        g = grad_out.contiguous().clone()
        for t in range(out.shape[0] - 2, -1, -1):
            g[t].addcmul_(g[t + 1], al)
        grad_a = None
        if ctx.needs_input_grad[2]:
            ga = torch.zeros_like(alf)
            if out.shape[0] > 1:
                ga = ga + _dot_like(g[1:], out[:-1], a)
            if i0 is not None:
                ga = ga + _dot_like(g[:1], i0.detach().to(dtype).unsqueeze(0), a)
            grad_a = (ga * alf * (1.0 - alf)).to(a.dtype).reshape(a.shape)
        grad_i0 = None
        if ctx.has_i0 and ctx.needs_input_grad[1]:
            grad_i0 = g[0] * al
        return g, grad_i0, grad_a


def synapse_multistep(
    x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor
) -> torch.Tensor:
    """Synaptic current ``I[t] = sigmoid(a) * I[t-1] + x[t]`` for ``x_seq [T, B, C, ...]``.

    ``i0`` is the current before the first step (None = 0); returns ``I [T, B, C, ...]``
    (``I[-1]`` is the state to carry on).
    """
    if a.ndim == 1 and (x_seq.ndim < 3 or x_seq.shape[2] != a.shape[0]):
        raise InvalidParameterError(
            f"per-channel alpha has {a.shape[0]} channels but x_seq is {tuple(x_seq.shape)}"
        )
    return SynapseFunction.apply(x_seq, i0, a)


def synapse_multistep_reference(
    x_seq: torch.Tensor, i0: torch.Tensor | None, a: torch.Tensor
) -> torch.Tensor:
    """Plain-autograd reference of :func:`synapse_multistep`."""
    al = _alpha_view(torch.sigmoid(a), x_seq.ndim - 1)
    cur = torch.zeros_like(x_seq[0]) if i0 is None else i0
    out = []
    for t in range(x_seq.shape[0]):
        cur = al * cur + x_seq[t]
        out.append(cur)
    return torch.stack(out)


def synapse_step(x: torch.Tensor, i: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:
    """One step ``I = sigmoid(a) * i + x`` for ``x [B, C, ...]`` (``i`` None = 0)."""
    if i is None:
        return x
    return _alpha_view(torch.sigmoid(a), x.ndim) * i + x
