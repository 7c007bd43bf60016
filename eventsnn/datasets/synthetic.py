"""Simulated event datasets: the embedded default and simulated versions of real image sets.

- :class:`SyntheticShapes` — the embedded default: ten classes of procedurally drawn glyphs
  (disc, ring, square, frame, triangle, plus, cross, horizontal bars, vertical bars, diamond) with
  random size, position, stroke and contrast, turned into N-MNIST-like recordings (34×34) by the
  :class:`~eventsnn.datasets.simulator.SaccadeSimulator`. Needs no files at all.
- :class:`SimulatedImages` — any image array through the simulator; :func:`simulated_nmnist`
  uses the real MNIST test images, :func:`simulated_cifar10dvs` the real CIFAR-10 images
  (grey, up-sampled to fill a 128×128 sensor, like CIFAR10-DVS's monitor recordings).

Recordings are generated deterministically from ``(seed, split, index)`` in batches and kept in
memory, so every access returns the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.images import load_image_folder, load_mnist, to_grey
from eventsnn.datasets.simulator import SaccadeSimulator
from eventsnn.errors import InvalidParameterError

__all__ = [
    "SHAPE_CLASSES", "draw_shape", "SyntheticShapes", "SimulatedImages", "simulated_nmnist", "simulated_cifar10dvs",
    "NMNIST_SACCADE_CORNERS", "NMNIST_IMAGE_HW",
]

SHAPE_CLASSES = (
    "disc", "ring", "square", "frame", "triangle", "plus", "cross", "hbars", "vbars", "diamond",
)
_SPLIT_OFFSET = {"train": 0, "test": 1_000_003}


def draw_shape(label: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """Draw one glyph of class ``label`` as a ``[size, size]`` float32 image in ``[0, 1]``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    cx, cy = c + rng.uniform(-2.5, 2.5), c + rng.uniform(-2.5, 2.5)
    r = size * rng.uniform(0.26, 0.42)
    stroke = rng.uniform(1.8, 3.2)
    ang = rng.uniform(-0.25, 0.25)
    ca, sa = np.cos(ang), np.sin(ang)
    u = ca * (xx - cx) + sa * (yy - cy)
    v = -sa * (xx - cx) + ca * (yy - cy)
    dist = np.hypot(u, v)
    cheb = np.maximum(np.abs(u), np.abs(v))
    if label == 0:
        m = dist <= r
    elif label == 1:
        m = np.abs(dist - r) <= stroke / 2
    elif label == 2:
        m = cheb <= r * 0.85
    elif label == 3:
        m = np.abs(cheb - r * 0.85) <= stroke / 2
    elif label == 4:
        m = (v <= r * 0.6) & (v >= -r * 0.9 + 2 * np.abs(u) * 0.9)
    elif label == 5:
        m = ((np.abs(u) <= stroke / 2) | (np.abs(v) <= stroke / 2)) & (cheb <= r)
    elif label == 6:
        m = ((np.abs(u - v) <= stroke * 0.7) | (np.abs(u + v) <= stroke * 0.7)) & (cheb <= r * 0.8)
    elif label == 7:
        m = ((np.abs(v - r * 0.45) <= stroke / 2) | (np.abs(v + r * 0.45) <= stroke / 2)) & (np.abs(u) <= r)
    elif label == 8:
        m = ((np.abs(u - r * 0.45) <= stroke / 2) | (np.abs(u + r * 0.45) <= stroke / 2)) & (np.abs(v) <= r)
    elif label == 9:
        m = (np.abs(u) + np.abs(v)) <= r
    else:
        raise InvalidParameterError(f"shape label must be 0..9, got {label}")
    fg = rng.uniform(0.6, 1.0)
    bg = rng.uniform(0.0, 0.15)
    img = np.where(m, fg, bg) + rng.normal(0, 0.02, (size, size))
    return np.clip(img, 0, 1).astype(np.float32)


class _InMemoryEvents(EventDataset):
    """Recordings generated up front and kept in memory."""

    recordings: list[np.ndarray]

    def read(self, index: int) -> np.ndarray:
        return self.recordings[index]

    def _generate(
        self, images: np.ndarray, simulator: SaccadeSimulator, seed: int, progress: bool, batch: int = 200
    ) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        starts = range(0, len(images), batch)
        for s in tqdm(starts, desc=f"simulating {self.name} {self.split}", disable=not progress, unit="batch"):
            rng = np.random.default_rng([seed, _SPLIT_OFFSET.get(self.split, 7), s])
            out += simulator.simulate(images[s : s + batch], seed=rng)
        return out


class SyntheticShapes(_InMemoryEvents):
    """The embedded default dataset: simulated recordings of 10 classes of glyphs (34×34×2).

    Args:
        split: ``"train"`` or ``"test"`` (independent draws).
        n_samples: recordings in the split (default 2,000 train / 500 test), balanced classes.
        seed: seed of the whole dataset.
        transform: applied to the events of each sample.
        simulator: the simulator used (default :class:`SaccadeSimulator` at 34×34).
    """

    name = "synthetic"
    sensor_size = (34, 34, 2)
    classes = SHAPE_CLASSES
    splits = ("train", "test")

    def __init__(
        self,
        split: str = "train",
        n_samples: int | None = None,
        seed: int = 0,
        transform: Callable[[np.ndarray], Any] | None = None,
        simulator: SaccadeSimulator | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(split, transform)
        if split not in self.splits:
            raise InvalidParameterError(f"synthetic: split must be one of {self.splits}, got {split!r}")
        n = n_samples if n_samples is not None else (2000 if split == "train" else 500)
        if n < 1:
            raise InvalidParameterError(f"n_samples must be >= 1, got {n}")
        rng = np.random.default_rng([seed, _SPLIT_OFFSET[split]])
        labels = np.arange(n) % len(self.classes)
        rng.shuffle(labels)
        images = np.stack([draw_shape(int(lbl), rng) for lbl in labels])
        sim = simulator or SaccadeSimulator(sensor_size=self.sensor_size)
        self.targets = [int(v) for v in labels]
        self.recordings = self._generate(images, sim, seed, progress)


class SimulatedImages(_InMemoryEvents):
    """Recordings simulated from an array of images ``[N, h, w]`` (grey, ``[0, 1]``)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        classes: tuple[str, ...],
        simulator: SaccadeSimulator,
        name: str,
        split: str = "train",
        seed: int = 0,
        transform: Callable[[np.ndarray], Any] | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(split, transform)
        if len(images) != len(labels):
            raise InvalidParameterError(f"{len(images)} images but {len(labels)} labels")
        self.name = name
        self.sensor_size = simulator.sensor_size
        self.classes = classes
        self.targets = [int(v) for v in labels]
        self.recordings = self._generate(np.asarray(images, dtype=np.float32), simulator, seed, progress)


def _resize(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of ``[N, h, w]`` images to ``size`` (``(H, W)``, or ``H = W = size``)."""
    import torch
    import torch.nn.functional as F

    hw = (size, size) if isinstance(size, int) else tuple(size)
    x = torch.from_numpy(np.ascontiguousarray(images[:, None], dtype=np.float32))
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False)[:, 0].numpy()


#: saccade path of the simulated N-MNIST (pixels), fitted to the real recordings
NMNIST_SACCADE_CORNERS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 5.0), (5.0, 0.0))
#: size ``(H, W)`` the 28×28 MNIST images are stretched to before the simulated N-MNIST saccades
NMNIST_IMAGE_HW: tuple[int, int] = (29, 34)


def simulated_nmnist(
    root: str | Path | None = None,
    split: str = "train",
    limit: int | None = None,
    seed: int = 0,
    transform: Callable[[np.ndarray], Any] | None = None,
    progress: bool = False,
) -> SimulatedImages:
    """N-MNIST-like recordings (34×34) simulated from the real MNIST test images.

    Only the MNIST *test* images are on disk; ``split="train"`` takes the last 9,000 of them
    (indices 1,000-9,999) and ``split="test"`` the first 1,000 (``limit`` keeps the first
    ``limit`` of the split). The official N-MNIST test recordings are these same MNIST test
    images (N-MNIST test id ``i`` is MNIST test image ``i - 1``; the 100 kept aside from the shared
    folder, SLAYER's ``test100.txt``, are images 0-99), so training on ``"train"`` never shows a
    network the digits of the official test recordings.

    The simulator settings reproduce what the real recordings in ``NMNIST/Train`` show (measured
    over 50 of them: ON-minus-OFF centroid per 25 ms window, centroid path, events per window):

    - polarity: in the real files the leading edge of the moving digit gives OFF events, i.e. a
      dark digit on a bright screen, so the digit is shown inverted (``1 - image`` on a white
      background);
    - path: corners :data:`NMNIST_SACCADE_CORNERS`, fitted to the real centroid paths (the
      first saccade mostly down, the second up and right, the third back left, ≈ 5 pixels);
    - speed: events bunch in the middle of each saccade (``velocity="smooth"``);
    - size: the real digits spread 1.2× wider in x and 1.05× in y than MNIST's 28×28 (event
      coordinate spread over 200 real recordings: 4.9 / 6.2 px, against 4.0 / 5.9 px unstretched),
      so the images are stretched to 34×29 (W×H);
    - contrast threshold 0.3: about as many events per recording as the real ones (≈ 4,000).

    A network trained only on these recordings (T = 1, 4 epochs) classifies 96.0% of the 1,000
    real ``NMNIST/Train`` recordings; trained on the earlier white-on-black, constant-speed,
    unstretched simulation it classified 22.6%.
    """
    from eventsnn.paths import shared_data_dir

    images, labels = load_mnist(root if root is not None else shared_data_dir(), "test")
    sl = slice(1000, None) if split == "train" else slice(0, 1000)
    images, labels = images[sl][:limit], labels[sl][:limit]
    sim = SaccadeSimulator(sensor_size=(34, 34, 2), corners=NMNIST_SACCADE_CORNERS, contrast_on=0.3,
                           contrast_off=0.3, background=1.0, velocity="smooth")
    grey = np.clip(_resize(to_grey(images), NMNIST_IMAGE_HW), 0.0, 1.0)
    return SimulatedImages(
        1.0 - grey, labels, tuple(str(i) for i in range(10)), sim, "nmnist-sim", split, seed, transform, progress
    )


def simulated_cifar10dvs(
    root: str | Path | None = None,
    split: str = "train",
    limit_per_class: int | None = None,
    seed: int = 0,
    transform: Callable[[np.ndarray], Any] | None = None,
    progress: bool = False,
) -> SimulatedImages:
    """CIFAR10-DVS-like recordings (128×128) simulated from the real CIFAR-10 images.

    ``split`` picks ``<root>/CIFAR10/train`` or ``/test``; images are converted to grey and
    up-sampled to 112×112 at the centre of the 128×128 sensor, then moved in saccades.
    """
    from eventsnn.paths import shared_data_dir

    base = Path(root) if root is not None else shared_data_dir()
    folder = base / "CIFAR10" / split if (base / "CIFAR10").is_dir() else base / split
    images, labels, classes = load_image_folder(folder, limit_per_class)
    grey = _resize(to_grey(images), 112)
    sim = SaccadeSimulator(sensor_size=(128, 128, 2), amplitude=6.0, dt_us=4_000, noise_rate_hz=0.05)
    return SimulatedImages(grey, labels, tuple(classes), sim, "cifar10dvs-sim", split, seed, transform, progress)
