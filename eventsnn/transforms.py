"""Tonic-style transforms: small frozen dataclasses that call :mod:`eventsnn.functional`.

They take and return what Tonic's transforms do (a structured event array in, frames out), so they
compose with ``tonic.transforms.Compose`` and Tonic's datasets::

    from tonic.transforms import Compose, Denoise
    from eventsnn.transforms import STC, ToTensor

    transform = Compose([Denoise(filter_time=10000), STC((34, 34, 2), T=4), ToTensor()])
    frames = transform(events)  # torch.float32 [T, P, H, W]

Note that Tonic's ``Compose`` stops as soon as the events are empty and hands the empty event
array back unchanged; call :class:`STC` directly when recordings may be empty (it gives zero
frames of the usual shape).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from eventsnn._deprecation import renamed_keyword, warn_deprecated
from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize, empty_events, normalize_events
from eventsnn.functional.events import (
    background_activity_filter,
    background_activity_mask,
    check_normalize_params,
    normalize_position,
)
from eventsnn.functional.stc import (
    check_stc_params,
    fixed_window_frames,
    stc_numpy,
    stc_numpy_batch,
    stc_output_shape,
)

__all__ = ["STC", "BackgroundActivityFilter", "NormalizePosition", "ToTensor", "events_to_tensors",
           "batch_to_tensors", "window_preprocessing"]


@dataclass(frozen=True)
class STC:
    """Spatio-temporal compression of one recording into ``[T, P', H', W']`` float32 frames.

    The one description of STC settings in eventsnn: training, evaluation, benchmarks and the
    HDF5 writer all take an ``STC``. See :func:`eventsnn.functional.stc.stc_numpy` for the
    method; the window is each recording's first to last event.

    Args:
        sensor_size: ``(W, H, P)`` of the recordings.
        T: ``T >= 1`` output frames (time steps).
        ratio: fine frames per output frame (``CR``).
        mode: ``"sum"`` (exact counts) or ``"exp"`` (synaptic current ``I <- decay*I + F``).
        decay: ``λ`` in ``(0, 1]`` for ``mode="exp"``.
        spatial_factor: integer spatial down-sampling (sum pooling).
        merge_polarity: one channel instead of ``P``.
        carry: ``exp`` mode: keep the current across output steps.
        n_time_steps: deprecated name of ``T`` (one release, with a DeprecationWarning).

    Raises:
        InvalidParameterError: on construction, naming the bad argument.

    Settings travel as :meth:`to_dict` (JSON; stored in checkpoints and compressed files) and
    come back with :meth:`from_dict`, which also reads the dicts written before ``T`` and
    ``sensor_size`` were stored (key ``n_time_steps``).
    """

    sensor_size: SensorSize
    T: int
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
        check_stc_params(sensor_size, self.T, self.ratio, self.mode, self.decay, self.spatial_factor)
        for name in ("merge_polarity", "carry"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(f"{name} must be a bool, got {getattr(self, name)!r}")
        object.__setattr__(self, "sensor_size", sensor_size)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """``(T, P', H', W')`` of the frames this transform returns."""
        return stc_output_shape(self.sensor_size, self.T, self.spatial_factor, self.merge_polarity)

    def _kernel_args(self) -> tuple:
        """``(ratio, mode, decay, spatial_factor, merge_polarity, carry)``, as the functions take them."""
        return self.ratio, self.mode, self.decay, self.spatial_factor, self.merge_polarity, self.carry

    def __call__(self, events: np.ndarray) -> np.ndarray:
        """Frames ``[T, P', H', W']`` float32 of ``events`` (any structured ``x, y, t, p`` dtype)."""
        return stc_numpy(events, self.sensor_size, self.T, *self._kernel_args())

    def frames(self, recordings: Sequence[np.ndarray]) -> np.ndarray:
        """Frames ``[B, T, P', H', W']`` float32 of ``B`` recordings, each on its own window
        (:func:`eventsnn.functional.stc.stc_numpy_batch`)."""
        return stc_numpy_batch(recordings, self.sensor_size, self.T, *self._kernel_args())

    def window_frames(self, events: np.ndarray, step_us: int, n_steps: int, t0: int | None = None) -> np.ndarray:
        """Frames ``[n_steps, P', H', W']`` of one recording on the fixed windows of streaming
        inference: step ``k`` covers ``[t0 + k*step_us, t0 + (k+1)*step_us)`` µs, ``t0`` the
        first event's timestamp or as given (:func:`eventsnn.functional.stc.fixed_window_frames`;
        ``T`` is not used)."""
        return fixed_window_frames(events, self.sensor_size, step_us, n_steps, *self._kernel_args(), t0=t0)

    def with_T(self, T: int) -> STC:
        """The same settings with ``T`` time steps."""
        return dataclasses.replace(self, T=T)

    def to_dict(self) -> dict[str, Any]:
        """Every setting as JSON-able values (``sensor_size`` as a list), for checkpoints and files."""
        d = dataclasses.asdict(self)
        d["sensor_size"] = list(self.sensor_size)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], sensor_size: SensorSize | None = None) -> STC:
        """The settings of :meth:`to_dict`, or of a dict written before ``T`` and ``sensor_size``
        were stored (checkpoints and compressed files of format version 1: key ``n_time_steps``).

        Args:
            d: the settings; keys left out take their defaults, unknown keys raise.
            sensor_size: ``(W, H, P)`` of the recordings; when given it replaces the one in
                ``d``, which old dicts do not have.

        Raises:
            InvalidParameterError: no ``T`` or no sensor size, an unknown key or a bad value.
        """
        settings = dict(d)
        if "n_time_steps" in settings:  # written by eventsnn before the settings object was STC
            settings.setdefault("T", settings.pop("n_time_steps"))
        if sensor_size is not None:
            settings["sensor_size"] = sensor_size
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise InvalidParameterError(f"unknown STC setting(s) {unknown}; valid: {sorted(names)}")
        for key in ("T", "sensor_size"):
            if settings.get(key) is None:
                raise InvalidParameterError(f"STC settings without {key}: {dict(d)}")
        return cls(**settings)

    @property
    def n_time_steps(self) -> int:
        """Deprecated name of :attr:`T` (one release)."""
        warn_deprecated("STC.n_time_steps is deprecated, use STC.T")
        return self.T


# the keyword n_time_steps= (deprecated) on construction, for one release
STC.__init__ = renamed_keyword("n_time_steps", "T")(STC.__init__)  # type: ignore[method-assign]


@dataclass(frozen=True)
class BackgroundActivityFilter:
    """Drop events without support: no neighbouring pixel fired in the ``dt_us`` µs before.

    :func:`eventsnn.functional.events.background_activity_filter`; ``neighbours`` 8 (3x3
    block) or 4 (Tonic's ``Denoise`` rule, compiled and without its start-up exception).
    Causal: apply it to a whole recording, then cut windows (as a live filter would run).
    """

    sensor_size: SensorSize
    dt_us: int = 30_000
    neighbours: int = 8

    def __post_init__(self) -> None:
        background_activity_mask(empty_events(), self.sensor_size, self.dt_us, self.neighbours)  # checks

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return background_activity_filter(events, self.sensor_size, self.dt_us, self.neighbours)


@dataclass(frozen=True)
class NormalizePosition:
    """Re-centre (``"center"``) or re-centre and re-scale (``"scale"``: median distance to the
    median = ``target_spread`` px) the events of one window on the sensor
    (:func:`eventsnn.functional.events.normalize_position`): the position and size at which an
    object is held stop being a cue."""

    sensor_size: SensorSize
    mode: str = "scale"
    target_spread: float = 16.0

    def __post_init__(self) -> None:
        check_normalize_params(self.mode, self.target_spread)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return normalize_position(events, self.sensor_size, self.mode, self.target_spread)


def window_preprocessing(
    sensor_size: SensorSize, denoise_us: int = 0, normalize: str = "none", target_spread: float = 16.0
) -> tuple[BackgroundActivityFilter | None, NormalizePosition | None]:
    """The event preprocessing of windows cut from long recordings, from plain settings (the
    options of a windowed dataset such as ``dvs128objects``): ``(filter for the whole
    recording, transform of each window)``, ``None`` where a step is off (``denoise_us=0``,
    ``normalize="none"``). Training, evaluation and streaming build it from the same settings."""
    check_normalize_params(normalize, target_spread)
    denoise = BackgroundActivityFilter(sensor_size, int(denoise_us)) if denoise_us else None
    norm = NormalizePosition(sensor_size, normalize, float(target_spread)) if normalize != "none" else None
    return denoise, norm


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
