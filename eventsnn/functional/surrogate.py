"""The Heaviside spike of MT-LIF neurons and its surrogate derivatives, as pure functions.

Forward: a membrane ``h`` (after charging) fires the graded spike ``s = clip(floor(h / theta), 0,
K)`` in {0..K}; for ``K = 1`` that is the Heaviside step ``H(h - theta)``.

Backward: ``ds/dh = sum_{k=1..K} g(h - k*theta)`` where ``g`` is one of :data:`SURROGATES`.
Every ``g`` integrates to 1 and peaks at ``1 / width`` (``width`` in membrane units):
rectangular ``1[|x| < width/2] / width``, triangular ``max(0, 1 - |x|/width) / width``, arctan =
SpikingJelly ``ATan(alpha=2/width)``, sigmoid = SpikingJelly ``Sigmoid(alpha=4/width)``
(``width=1`` gives SpikingJelly's defaults).

Public: :data:`SURROGATES`, :func:`surrogate_grad` and :func:`spike_fn` (the spike with its
surrogate gradient, used by the reference dynamics in :mod:`eventsnn.functional.neuron`). The
``*_into`` functions and :func:`graded` write into caller-provided buffers: they are the building
blocks of the hand-written kernels (:mod:`eventsnn.functional._neuron_kernel`). Nothing here
keeps state.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from eventsnn.errors import InvalidParameterError

__all__ = ["SURROGATES", "surrogate_grad", "spike_fn"]

SURROGATES: tuple[str, ...] = ("rectangular", "triangular", "arctan", "sigmoid")
SurrogateName = Literal["rectangular", "triangular", "arctan", "sigmoid"]


def surrogate_grad(x: torch.Tensor, name: str, width: float) -> torch.Tensor:
    """Surrogate derivative ``g(x)`` of the Heaviside step at ``x = h - threshold``.

    Every shape integrates to 1 and peaks at ``1 / width``. Returns a new tensor shaped like ``x``.
    """
    if name not in SURROGATES:
        raise InvalidParameterError(f"surrogate must be one of {SURROGATES}, got {name!r}")
    return surrogate_into(x, 0.0, name, width, torch.empty_like(x))


# Implementation note (CPU speed): on this torch build boolean masks, torch.where, masked_fill
# and floor_divide are 3-15x slower than float arithmetic, fresh allocations cost more than
# in-place ops, and floor/trunc/round parallelise even tiny tensors (a thread barrier per call
# that stalls for milliseconds when the cores are shared). The functions below and the kernels
# built on them therefore use float comparisons written into float buffers (torch.ge(...,
# out=float)), torch.div(..., rounding_mode="trunc") instead of floor/round, chains of in-place
# ops and preallocated buffers.


def surrogate_into(h: torch.Tensor, c: float, name: str, width: float, out: torch.Tensor) -> torch.Tensor:
    """Write ``g(h - c)`` into ``out`` (same shape as ``h``, must not alias it) and return it."""
    inv = 1.0 / width
    if name == "rectangular":  # 1[|x| < width/2] / width
        torch.sub(h, c, out=out).abs_()
        torch.lt(out, 0.5 * width, out=out)
        return out if inv == 1.0 else out.mul_(inv)
    if name == "triangular":  # max(0, 1 - |x|/width) / width
        return torch.sub(h, c, out=out).abs_().mul_(-inv * inv).add_(inv).clamp_min_(0.0)
    if name == "arctan":  # SpikingJelly ATan(alpha = 2/width): (alpha/2) / (1 + (pi/2 alpha x)^2)
        alpha = 2.0 / width
        torch.sub(h, c, out=out)
        torch.addcmul(out.new_ones(()), out, out, value=(math.pi / 2 * alpha) ** 2, out=out)
        out.reciprocal_()
        return out if alpha == 2.0 else out.mul_(alpha / 2)
    if name == "sigmoid":  # SpikingJelly Sigmoid(alpha = 4/width): alpha sg (1 - sg)
        alpha = 4.0 / width
        torch.mul(h, alpha, out=out)
        if c != 0.0:
            out.sub_(alpha * c)
        out.sigmoid_()
        return out.addcmul_(out, out, value=-1.0).mul_(alpha)
    raise InvalidParameterError(f"surrogate must be one of {SURROGATES}, got {name!r}")


def windows_disjoint(n: int, theta: float, name: str, width: float) -> bool:
    """True when the K surrogate windows cannot overlap (only the nearest threshold counts)."""
    return n > 1 and ((name == "rectangular" and width <= theta)
                      or (name == "triangular" and width <= 0.5 * theta))


def graded_grad_into(h: torch.Tensor, theta: float, n: int, name: str, width: float,
                      out: torch.Tensor, tmp: torch.Tensor | None) -> torch.Tensor:
    """Write ``ds/dh = sum_{k=1..K} g(h - k*theta)`` into ``out``; ``tmp`` (like ``h``) is
    scratch space needed when K > 1 and the windows overlap."""
    if windows_disjoint(n, theta, name, width):
        # h - j*theta for the nearest threshold j in 1..K
        # (nearest j = clamp(trunc((h + theta/2) / theta), 1, K); ties lie outside every window)
        torch.add(h, 0.5 * theta, out=out).div_(theta, rounding_mode="trunc").clamp_(1, n)
        out.mul_(-theta).add_(h)
        out.abs_()
        inv = 1.0 / width
        if name == "rectangular":
            torch.lt(out, 0.5 * width, out=out)
            return out if inv == 1.0 else out.mul_(inv)
        return out.mul_(-inv * inv).add_(inv).clamp_min_(0.0)
    surrogate_into(h, theta, name, width, out)
    for j in range(2, n + 1):
        out.add_(surrogate_into(h, j * theta, name, width, tmp))
    return out


def graded_grad(h: torch.Tensor, theta: float, n: int, name: str, width: float) -> torch.Tensor:
    """``ds/dh`` as a new tensor."""
    tmp = None if n == 1 or windows_disjoint(n, theta, name, width) else torch.empty_like(h)
    return graded_grad_into(h, theta, n, name, width, torch.empty_like(h), tmp)


def graded(h: torch.Tensor, theta: float, n: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Forward spike value ``clip(floor(h/theta), 0, K)``, computed as
    ``clamp(trunc(h / theta), 0, K)`` (equal: trunc and floor differ only below 0);
    ``H(h - theta)`` for K = 1. Float tensor like ``h`` (written into ``out`` if given)."""
    if n == 1:
        return torch.ge(h, theta, out=out) if out is not None else (h >= theta).to(h.dtype)
    return torch.div(h, theta, rounding_mode="trunc", out=out).clamp_(0, n)


class _SpikeFunction(torch.autograd.Function):
    """Graded spike with a surrogate gradient (used by the reference implementation)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, theta: float, n: int, name: str, width: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(h)
        ctx.cfg = (theta, n, name, width)
        return graded(h, theta, n)

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        theta, n, name, width = ctx.cfg
        return grad_s * graded_grad(h, theta, n, name, width), None, None, None, None


def spike_fn(
    h: torch.Tensor, v_threshold: float = 1.0, n_thresholds: int = 1,
    surrogate: str = "rectangular", width: float = 1.0,
) -> torch.Tensor:
    """Graded spikes ``clip(floor(h/theta), 0, K)`` with the summed surrogate gradient."""
    return _SpikeFunction.apply(h, v_threshold, n_thresholds, surrogate, width)
