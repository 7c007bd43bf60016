"""Frame augmentations for training on few recordings (pure torch, batched, polarity-preserving).

All functions take a batch of STC frames ``x`` of shape ``[B, T, P, H, W]`` (float, as a
DataLoader yields them, *before* the ``transpose(0, 1)`` to ``[T, B, ...]``) and return a tensor of
the same shape, dtype and device. Each sample gets its own random transform, applied identically
to all its ``T`` time steps and both polarity channels (ON stays ON, OFF stays OFF; the motion
inside a recording is not altered). Randomness comes only from the ``generator`` argument (a CPU
``torch.Generator``), so a seeded run is reproducible.

- :func:`random_translate`: integer shift by up to ``max_shift`` pixels in x and y, zero fill
  (event counts are moved, never interpolated: sums are preserved unless events leave the frame).
- :func:`random_affine`: small rotation / scale / translation with bilinear resampling
  (counts are interpolated).
- :class:`FrameAugment`: a callable combining both from plain settings (what a training loop
  holds); ``FrameAugment.from_spec("shift=2")`` parses the CLI form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from eventsnn.errors import InvalidParameterError

__all__ = ["random_translate", "random_affine", "FrameAugment"]


def _check(x: torch.Tensor) -> None:
    if x.ndim != 5:
        raise InvalidParameterError(f"expected frames [B, T, P, H, W], got shape {tuple(x.shape)}")


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each sample of ``x [B, T, P, H, W]`` by ``dx, dy`` uniform in ``[-max_shift, max_shift]``
    pixels (integers), filling with zeros. ``max_shift = 0`` returns ``x`` unchanged."""
    _check(x)
    if max_shift < 0:
        raise InvalidParameterError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return x
    b, _, _, h, w = x.shape
    s = int(max_shift)
    xp = F.pad(x, (s, s, s, s))
    dy = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(x.device)
    iy = dy[:, None] + torch.arange(h, device=x.device)[None]  # [B, H]
    ix = dx[:, None] + torch.arange(w, device=x.device)[None]  # [B, W]
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 3, 4, 1, 2)[bi, iy[:, :, None], ix[:, None, :]]  # [B, H, W, T, P]
    return out.permute(0, 3, 4, 1, 2).contiguous()


def random_affine(
    x: torch.Tensor,
    max_shift: float = 0.0,
    max_rotation_deg: float = 0.0,
    max_scale: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random rotation (uniform in ``±max_rotation_deg``), scale (``1 ± max_scale``) and shift
    (``±max_shift`` pixels) per sample of ``x [B, T, P, H, W]``, bilinear, zero fill."""
    _check(x)
    b, t, p, h, w = x.shape
    u = lambda: torch.rand(b, generator=generator) * 2 - 1  # noqa: E731
    ang = u() * math.radians(max_rotation_deg)
    sc = 1 + u() * max_scale
    tx = u() * max_shift * 2 / w
    ty = u() * max_shift * 2 / h
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = torch.cos(ang) / sc
    theta[:, 0, 1] = -torch.sin(ang) / sc
    theta[:, 0, 2] = tx
    theta[:, 1, 0] = torch.sin(ang) / sc
    theta[:, 1, 1] = torch.cos(ang) / sc
    theta[:, 1, 2] = ty
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, [b, t * p, h, w], align_corners=False)
    y = F.grid_sample(x.reshape(b, t * p, h, w), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return y.reshape(b, t, p, h, w)


@dataclass(frozen=True)
class FrameAugment:
    """Training-time augmentation of ``[B, T, P, H, W]`` frame batches.

    Args:
        shift: max translation in pixels (integer shift when rotation and scale are 0).
        rotation: max rotation in degrees.
        scale: max relative scale change (0.1 = ±10 %).
    """

    shift: int = 0
    rotation: float = 0.0
    scale: float = 0.0

    def __post_init__(self) -> None:
        if self.shift < 0 or self.rotation < 0 or self.scale < 0 or self.scale >= 1:
            raise InvalidParameterError(f"invalid augmentation {self}")

    @property
    def active(self) -> bool:
        return bool(self.shift or self.rotation or self.scale)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.rotation or self.scale:
            return random_affine(x, self.shift, self.rotation, self.scale, generator)
        return random_translate(x, self.shift, generator)

    @classmethod
    def from_spec(cls, spec: str | None) -> FrameAugment:
        """Parse ``"shift=2,rotation=10,scale=0.1"`` (empty / ``"none"`` = no augmentation)."""
        if not spec or spec == "none":
            return cls()
        kw: dict[str, float] = {}
        for part in spec.split(","):
            key, _, val = part.partition("=")
            key = key.strip()
            if key not in ("shift", "rotation", "scale") or not val:
                raise InvalidParameterError(f"bad augmentation item {part!r}; use shift=N,rotation=DEG,scale=F")
            kw[key] = float(val)
        return cls(shift=int(kw.get("shift", 0)), rotation=kw.get("rotation", 0.0), scale=kw.get("scale", 0.0))
