"""Event-level training augmentation of windows cut from long recordings, frames made per epoch.

Frame augmentation (:mod:`eventsnn.train.augment`) moves and interpolates finished STC frames;
the augmentations here change the *events* of a training window before STC, so the frames are
remade every epoch (:class:`AugmentedWindows`). What a window can become (:class:`EventAugment`,
each drawn per window):

- ``jitter``: the window starts up to one training stride later (uniform; clipped so that it
  stays inside the recording): every epoch sees other windows of the training recordings;
- ``time = f``: a time-stretch factor ``s`` log-uniform in ``[1/f, f]``: the window takes
  ``window/s`` µs of the recording and plays them in ``window`` µs (faster or slower motion);
- ``drop = d``: each event is kept with a probability drawn uniform in ``[1 - d, 1]``;
- ``noise = r``: uniform background events at a rate drawn uniform in ``[0, r]`` Hz over the
  sensor, added *before* the dataset's causal background-activity filter when it has one (the
  filter re-runs on the window with ``dt_us`` of history), so the network sees the noise that
  survives the filter, as at test time;
- ``polarity``: ON and OFF swapped with probability 1/2;
- ``mirror`` (x mirrored with probability 1/2), ``rotation = deg`` (uniform ``±deg``),
  ``scale = s`` (log-uniform ``1 ± s``), ``shift = px`` (uniform ``±px``): one random
  similarity about the sensor centre, applied after the dataset's position normalisation
  (:func:`eventsnn.functional.events.normalize_position`); no interpolation: events move to the
  nearest pixel.

Randomness: window ``i`` of epoch ``e`` uses ``numpy.random.default_rng([seed, e, i])``, so an
epoch's frames do not depend on batch order, workers or an interruption (resumable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from eventsnn.datasets.slicing import SlicedRecordings
from eventsnn.errors import InvalidParameterError
from eventsnn.events import EVENT_DTYPE, SensorSize
from eventsnn.functional.events import Similarity, normalize_position
from eventsnn.transforms import STC, NormalizePosition

__all__ = ["AugmentedWindows", "EventAugment"]

_FLAGS = ("jitter", "polarity", "mirror")


def _cut(events: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """A copy of the events with ``t0 <= t < t1`` (sorted timestamps)."""
    i0, i1 = np.searchsorted(events["t"], [t0, t1])
    return events[i0:i1].copy()


def _uniform_noise(rng: np.random.Generator, rate_hz: float, t0: int, t1: int, sensor_size: SensorSize) -> np.ndarray:
    n = int(rng.poisson(rate_hz * (t1 - t0) / 1e6))
    noise = np.empty(n, dtype=EVENT_DTYPE)
    noise["x"] = rng.integers(0, sensor_size[0], n)
    noise["y"] = rng.integers(0, sensor_size[1], n)
    noise["p"] = rng.integers(0, 2, n)
    noise["t"] = rng.integers(t0, t1, n)
    return noise


@dataclass(frozen=True)
class EventAugment:
    """Event-level augmentation settings (see the module docstring); all off by default.

    ``EventAugment.from_spec("jitter,time=2,drop=0.5,noise=10000,polarity,mirror")`` parses the
    form ``TrainConfig.event_augment`` takes (``"none"`` / empty: off).
    """

    jitter: bool = False
    time: float = 1.0
    drop: float = 0.0
    noise: float = 0.0
    polarity: bool = False
    mirror: bool = False
    rotation: float = 0.0
    scale: float = 0.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        if not (self.time >= 1 and 0 <= self.drop < 1 and self.noise >= 0 and self.rotation >= 0
                and 0 <= self.scale < 1 and self.shift >= 0):
            raise InvalidParameterError(
                f"invalid event augmentation {self}: need time >= 1, 0 <= drop < 1, noise >= 0, "
                "rotation >= 0, 0 <= scale < 1, shift >= 0")

    @property
    def active(self) -> bool:
        return self != EventAugment()

    @property
    def geometric(self) -> bool:
        return bool(self.mirror or self.rotation or self.scale or self.shift)

    @classmethod
    def from_spec(cls, spec: str | None) -> EventAugment:
        """Parse ``"key=value,flag,..."`` (keys: the field names; flags: ``jitter``,
        ``polarity``, ``mirror``; empty / ``"none"``: no augmentation)."""
        if not spec or spec == "none":
            return cls()
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for part in spec.split(","):
            key, sep, val = (s.strip() for s in part.partition("="))
            if key not in names or (not sep and key not in _FLAGS) or (sep and not val):
                raise InvalidParameterError(
                    f"bad event augmentation item {part!r}; use {', '.join(sorted(names - set(_FLAGS)))}=NUMBER "
                    f"or the flags {', '.join(_FLAGS)}")
            if key in _FLAGS:
                kw[key] = not sep or val.lower() not in ("0", "false")
                continue
            try:
                kw[key] = float(val)
            except ValueError:
                raise InvalidParameterError(f"bad event augmentation item {part!r}: not a number") from None
        return cls(**kw)

    def stretch(self, rng: np.random.Generator) -> float:
        """The time-stretch factor of one window."""
        return float(math.exp(rng.uniform(-math.log(self.time), math.log(self.time)))) if self.time > 1 else 1.0

    def similarity(self, rng: np.random.Generator) -> Similarity | None:
        """The random similarity of one window (``None`` without geometric augmentation)."""
        if not self.geometric:
            return None
        scale = float(math.exp(rng.uniform(math.log(1 - self.scale), math.log(1 + self.scale)))) if self.scale else 1.0
        angle = math.radians(rng.uniform(-self.rotation, self.rotation))
        return (scale, angle, rng.uniform(-self.shift, self.shift), rng.uniform(-self.shift, self.shift),
                bool(self.mirror and rng.random() < 0.5))

    def finish(self, events: np.ndarray, stretch: float, window_us: int, rng: np.random.Generator,
               sensor_size: SensorSize, normalize: NormalizePosition | None) -> np.ndarray:
        """Drop, polarity swap, normalisation + similarity and time stretch of one cut window
        (``t`` from 0)."""
        if self.drop > 0:
            events = events[rng.random(len(events)) < rng.uniform(1 - self.drop, 1)]
        if self.polarity and rng.random() < 0.5:
            events["p"] = 1 - events["p"]
        geom = self.similarity(rng)
        mode, spread = (normalize.mode, normalize.target_spread) if normalize is not None else ("none", 16.0)
        if mode != "none" or geom is not None:
            events = normalize_position(events, sensor_size, mode, spread, geom)
        if stretch != 1.0:
            events["t"] = np.minimum((events["t"] * stretch).astype(np.int64), window_us - 1)
        return events


class AugmentedWindows(torch.utils.data.Dataset):
    """Training frames of the windows ``indices`` of a :class:`SlicedRecordings`, remade with
    random event-level augmentation every epoch (:meth:`set_epoch`).

    ``windows[positions]`` (a list of positions into ``indices``) gives a batch
    ``(x [B, T, P, H, W] float32, y [B] int64)`` like :class:`eventsnn.datasets.FrameSet`. The
    dataset's ``recording_transform`` (a causal filter) and ``window_transform`` (a
    :class:`~eventsnn.transforms.NormalizePosition`) are applied as :meth:`SlicedRecordings.read`
    applies them, with the augmentation in between (see the module docstring).
    """

    def __init__(self, dataset: SlicedRecordings, indices: np.ndarray, stc: STC, augment: EventAugment,
                 seed: int = 0) -> None:
        if not isinstance(dataset, SlicedRecordings) or not hasattr(dataset.slicer, "window_us"):
            raise InvalidParameterError("event-level augmentation needs time windows of long recordings")
        if dataset.window_transform is not None and not isinstance(dataset.window_transform, NormalizePosition):
            raise InvalidParameterError("event-level augmentation: the windows' transform must be NormalizePosition")
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        self.stc = stc
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.y = torch.as_tensor(np.asarray(dataset.targets, dtype=np.int64)[self.indices])
        self._raw: dict[int, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """``(T, P, H, W)`` of one sample."""
        return tuple(self.stc.output_shape)

    def __len__(self) -> int:
        return len(self.indices)

    def _raw_recording(self, r: int) -> np.ndarray:
        if r not in self._raw:
            self._raw[r] = self.dataset.source.read(r)
        return self._raw[r]

    def _cut_with_noise(self, r: int, start: int, end: int, rng: np.random.Generator) -> np.ndarray:
        """The (filtered) events of ``[start, end)`` of recording ``r``, with uniform noise added
        before the filter."""
        ds, a = self.dataset, self.augment
        sensor = ds.sensor_size
        rate = rng.uniform(0, a.noise) if a.noise > 0 else 0.0
        flt = ds.recording_transform
        if flt is None or rate == 0.0:
            ev = _cut(ds.recording_events(r), start, end)
            if rate:
                ev = np.concatenate([ev, _uniform_noise(rng, rate, start, end, sensor)])
                ev = ev[np.argsort(ev["t"], kind="stable")]
            return ev
        history = int(getattr(flt, "dt_us", 0))
        ev = _cut(self._raw_recording(r), start - history, end)
        ev = np.concatenate([ev, _uniform_noise(rng, rate, start - history, end, sensor)])
        ev = flt(ev[np.argsort(ev["t"], kind="stable")])
        return ev[ev["t"] >= start]

    def window_events(self, position: int) -> np.ndarray:
        """The augmented events of training window ``indices[position]`` in this epoch (``t``
        from the window start)."""
        i = int(self.indices[position])
        ds, a = self.dataset, self.augment
        rng = np.random.default_rng([self.seed, self.epoch, i])
        window = int(ds.slicer.window_us)
        stretch = a.stretch(rng)
        span = max(1, int(window / stretch))
        r = int(ds.recordings[i])
        last = int(ds.recording_events(r)["t"][-1])
        start = int(ds.t_start[i]) + (int(rng.integers(0, ds.slicer.stride)) if a.jitter else 0)
        start = max(int(ds.t_start[i]), min(start, last + 1 - span))
        ev = self._cut_with_noise(r, start, start + span, rng)
        ev["t"] -= start
        return a.finish(ev, stretch, window, rng, ds.sensor_size, ds.window_transform)

    def __getitem__(self, positions: Any) -> tuple[torch.Tensor, Any]:
        """A batch for a list of positions, one sample ``([T, P, H, W], label)`` for one."""
        if not isinstance(positions, list | np.ndarray | torch.Tensor):
            x, y = self[[int(positions)]]
            return x[0], int(y[0])
        pos = [int(p) for p in positions]
        frames = self.stc.frames([self.window_events(p) for p in pos])
        return torch.from_numpy(frames), self.y[pos]

    def __repr__(self) -> str:
        return f"AugmentedWindows(samples={len(self)}, frames={self.frame_shape}, {self.augment})"
