"""Tonic-style transforms: small frozen dataclasses that call :mod:`eventsnn.functional`.

They take and return what Tonic's transforms do (a structured event array in, frames out), so they
compose with ``tonic.transforms.Compose`` and Tonic's datasets::

    from tonic.transforms import Compose, Denoise
    from eventsnn.transforms import STC, ToTensor

    transform = Compose([Denoise(filter_time=10000), STC((34, 34, 2), n_time_steps=4), ToTensor()])
    frames = transform(events)  # torch.float32 [T, P, H, W]

Note that Tonic's ``Compose`` stops as soon as the events are empty and hands the empty event
array back unchanged; call :class:`STC` directly when recordings may be empty (it gives zero
frames of the usual shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize, empty_events, normalize_events
from eventsnn.functional.stc import check_stc_params, stc_numpy, stc_output_shape

__all__ = ["STC", "ToTensor", "events_to_tensors", "batch_to_tensors"]


@dataclass(frozen=True)
class STC:
    """Spatio-temporal compression of one recording into ``[T, P', H', W']`` float32 frames.

    See :func:`eventsnn.functional.stc.stc_numpy` for the method; the window is each
    recording's first to last event.

    Args:
        sensor_size: ``(W, H, P)`` of the recordings.
        n_time_steps: ``T >= 1`` output frames.
        ratio: fine frames per output frame (``CR``).
        mode: ``"sum"`` (exact counts) or ``"exp"`` (synaptic current ``I <- decay*I + F``).
        decay: ``λ`` in ``(0, 1]`` for ``mode="exp"``.
        spatial_factor: integer spatial down-sampling (sum pooling).
        merge_polarity: one channel instead of ``P``.
        carry: ``exp`` mode: keep the current across output steps.

    Raises:
        InvalidParameterError: on construction, naming the bad argument.
    """

    sensor_size: SensorSize
    n_time_steps: int
    ratio: int = 1
    mode: Literal["sum", "exp"] = "sum"
    decay: float = 0.5
    spatial_factor: int = 1
    merge_polarity: bool = False
    carry: bool = False

    def __post_init__(self) -> None:
        try:
            sensor_size = tuple(int(s) for s in self.sensor_size)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"sensor_size must be (W, H, P) of positive ints, got {self.sensor_size!r}"
            ) from None
        check_stc_params(sensor_size, self.n_time_steps, self.ratio, self.mode, self.decay, self.spatial_factor)
        for name in ("merge_polarity", "carry"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(f"{name} must be a bool, got {getattr(self, name)!r}")
        object.__setattr__(self, "sensor_size", sensor_size)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """``(T, P', H', W')`` of the frames this transform returns."""
        return stc_output_shape(self.sensor_size, self.n_time_steps, self.spatial_factor, self.merge_polarity)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """Frames ``[T, P', H', W']`` float32 of ``events`` (any structured ``x, y, t, p`` dtype)."""
        return stc_numpy(
            events, self.sensor_size, self.n_time_steps, self.ratio, self.mode, self.decay,
            self.spatial_factor, self.merge_polarity, self.carry,
        )


@dataclass(frozen=True)
class ToTensor:
    """Frames (numpy) -> ``torch.float32`` tensor on ``device`` (no copy on CPU for float32)."""

    device: str | torch.device | None = None

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(frames, dtype=torch.float32, device=self.device)


def events_to_tensors(
    events: np.ndarray, device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x, y, t, p`` of one recording as 1-D tensors on ``device``, for
    :func:`eventsnn.functional.stc.stc_torch`.

    On the CPU the tensors are zero-copy views of the event array's fields (``x``, ``y`` int16,
    ``t`` int64 µs, ``p`` int8) when it is already in :data:`eventsnn.events.EVENT_DTYPE`;
    other dtypes are converted first.
    """
    ev = normalize_events(events)
    return tuple(torch.as_tensor(ev[f], device=device) for f in ("x", "y", "t", "p"))  # type: ignore[return-value]


def batch_to_tensors(
    recordings: list[np.ndarray], device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x, y, t, p, sample`` of ``B`` recordings concatenated, on ``device``.

    ``sample`` (int64) gives each event's recording index, as ``stc_torch(..., sample=sample,
    batch_size=B)`` expects.
    """
    evs = [normalize_events(r, f"recording {i}") for i, r in enumerate(recordings)]
    ev = np.concatenate(evs) if evs else empty_events()
    sample = np.repeat(np.arange(len(evs)), [len(e) for e in evs])
    x, y, t, p = events_to_tensors(ev, device)
    return x, y, t, p, torch.from_numpy(sample).to(device)
