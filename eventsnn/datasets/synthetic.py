"""Simulated event datasets: the embedded default and simulated versions of real image sets.

- :class:`SyntheticShapes` — the embedded default: ten classes of procedurally drawn glyphs
  (disc, ring, square, frame, triangle, plus, cross, horizontal bars, vertical bars, diamond) with
  random size, position, stroke and contrast, turned into N-MNIST-like recordings (34×34) by the
  :class:`~eventsnn.datasets.simulator.SaccadeSimulator`. Needs no files at all.
- :class:`SimulatedImages` — any image array through the simulator; :func:`simulated_nmnist`
  uses the real MNIST test images, :func:`simulated_cifar10dvs` the real CIFAR-10 images
  (grey, up-sampled to fill a 128×128 sensor, like CIFAR10-DVS's monitor recordings).

Recordings are a pure function of ``(seed, split, index)``: they are simulated on first read, 200
at a time (the batch holding the index, seeded by ``(seed, split, batch start)``), from source
images kept as they are stored (uint8) and converted one batch at a time. Only the last batch is
kept unless ``keep=True`` (each batch then simulated once), so reading a whole dataset takes the
memory of one batch, and ``--limit`` / a subset of indices simulates only the batches it touches.
Worker processes that get a pickled dataset simulate their own batches; :meth:`batch_part
<_SimulatedEvents.batch_part>` gives one that holds a single batch's source images, so that a
worker sent one batch does not get (and keep) a copy of every image.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
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


class _Recordings(Sequence):
    """The recordings of a simulated dataset as a read-only sequence (simulated on access)."""

    def __init__(self, dataset: _SimulatedEvents) -> None:
        self._dataset = dataset

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._dataset.read(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self._dataset.read(index)


class _SimulatedEvents(EventDataset):
    """Recordings simulated on first read, a batch at a time.

    Recordings ``[s, s + simulation_batch)`` (``s`` a multiple of it) are simulated together
    from the source images, seeded by ``(seed, split, s)``, so every read returns the same
    events whatever was read before, in whatever process. Only the last simulated batch is
    kept (``keep=False``: memory is bounded by one batch) or every batch simulated so far
    (``keep=True``: each is simulated once).
    """

    #: recordings simulated together (their random draws depend on the whole batch)
    simulation_batch: int = 200
    #: index of the recording of the first source image held (not 0 in a :meth:`batch_part`)
    _first: int = 0

    def _set_source(
        self,
        images: np.ndarray,
        simulator: SaccadeSimulator,
        seed: int,
        keep: bool,
        progress: bool,
        view: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """``images`` ``[N, ...]``: the sources, as ``view(images[a:b])`` (default: as they are)
        turns them into grey levels ``[n, h, w]`` in ``[0, 1]``."""
        self._images = images
        self._view = view
        self.simulator = simulator
        self.seed = seed
        self.keep = keep
        self.progress = progress
        self._batches: dict[int, list[np.ndarray]] = {}
        self._bar: tqdm | None = None

    @property
    def recordings(self) -> Sequence[np.ndarray]:
        """Every recording, in order (a view that simulates on access)."""
        return _Recordings(self)

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}: index {index} out of range for {len(self)} samples")
        start = index - index % self.simulation_batch
        recordings = self._batches.get(start)
        if recordings is None:
            if not self.keep:
                self._batches.clear()  # before simulating: one batch in memory, not two
            recordings = self._batches[start] = self._simulate(start)
        return recordings[index - start]

    def batch_part(self, start: int) -> _SimulatedEvents:
        """This dataset restricted to the batch of recordings ``[start, start + simulation_batch)``
        (``start`` a multiple of :attr:`simulation_batch`): a copy that holds only that batch's
        source images, simulates exactly the recordings this one does, and raises ``IndexError``
        for recordings of other batches. What a worker process is sent to simulate one batch."""
        if start % self.simulation_batch or not 0 <= start < len(self):
            raise IndexError(f"{self.name}: no batch starts at recording {start}")
        part = copy.copy(self)
        lo = start - self._first
        part._images = self._images[lo : lo + self.simulation_batch].copy()
        part._first, part._batches, part._bar, part.progress = start, {}, None, False
        return part

    def _simulate(self, start: int) -> list[np.ndarray]:
        lo = start - self._first
        if not 0 <= lo < len(self._images):
            raise IndexError(f"{self.name}: recording {start} is not in this part of the dataset")
        images = self._images[lo : lo + self.simulation_batch]
        if self._view is not None:
            images = self._view(images)
        rng = np.random.default_rng([self.seed, _SPLIT_OFFSET.get(self.split, 7), start])
        recordings = self.simulator.simulate(np.asarray(images, dtype=np.float32), seed=rng)
        if self.progress:
            if self._bar is None:
                n = -(-len(self) // self.simulation_batch)
                self._bar = tqdm(total=n, desc=f"simulating {self.name} {self.split}", unit="batch")
            self._bar.update(1)
            if self._bar.n >= self._bar.total:
                self._bar.close()
                self._bar = None
        return recordings

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_batches"] = {}
        state["_bar"] = None
        return state


class SyntheticShapes(_SimulatedEvents):
    """The embedded default dataset: simulated recordings of 10 classes of glyphs (34×34×2).

    Args:
        split: ``"train"`` or ``"test"`` (independent draws).
        n_samples: recordings in the split (default 2,000 train / 500 test), balanced classes.
        seed: seed of the whole dataset.
        transform: applied to the events of each sample.
        simulator: the simulator used (default :class:`SaccadeSimulator` at 34×34).
        progress: show a bar of the batches simulated.
        keep: keep every simulated batch (``False``: only the last one, bounded memory).

    The glyph images are drawn up front (small); the recordings are simulated on first read.
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
        keep: bool = False,
    ) -> None:
        super().__init__(split, transform)
        self.check_split(split)
        n = n_samples if n_samples is not None else (2000 if split == "train" else 500)
        if n < 1:
            raise InvalidParameterError(f"n_samples must be >= 1, got {n}")
        rng = np.random.default_rng([seed, _SPLIT_OFFSET[split]])
        labels = np.arange(n) % len(self.classes)
        rng.shuffle(labels)
        images = np.stack([draw_shape(int(lbl), rng) for lbl in labels])
        sim = simulator or SaccadeSimulator(sensor_size=self.sensor_size)
        self.targets = [int(v) for v in labels]
        self._set_source(images, sim, seed, keep, progress)


class SimulatedImages(_SimulatedEvents):
    """Recordings simulated from an array of images ``[N, h, w]`` (grey, ``[0, 1]``).

    ``view``: turns a slice ``images[a:b]`` into grey images ``[n, h, w]`` in ``[0, 1]``
    (default: the images are that already), so that ``images`` can stay as stored (e.g. uint8
    RGB) and only the batch being simulated is converted. Recordings are simulated on first read
    (:attr:`simulation_batch` at a time); ``keep`` keeps every simulated batch, else only the last one.
    """

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
        keep: bool = False,
        view: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        super().__init__(split, transform)
        if len(images) != len(labels):
            raise InvalidParameterError(f"{len(images)} images but {len(labels)} labels")
        self.name = name
        self.sensor_size = simulator.sensor_size
        self.classes = classes
        self.targets = [int(v) for v in labels]
        self._set_source(np.asarray(images), simulator, seed, keep, progress, view)


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


def nmnist_view(images: np.ndarray) -> np.ndarray:
    """MNIST images ``[n, 28, 28]`` uint8 as the simulated N-MNIST shows them: grey, stretched
    to :data:`NMNIST_IMAGE_HW` and inverted (a dark digit on a bright screen)."""
    return 1.0 - np.clip(_resize(to_grey(images), NMNIST_IMAGE_HW), 0.0, 1.0)


def cifar10dvs_view(images: np.ndarray) -> np.ndarray:
    """CIFAR-10 images ``[n, 32, 32, 3]`` uint8 as the simulated CIFAR10-DVS shows them: grey,
    up-sampled to 112×112."""
    return _resize(to_grey(images), 112)


def simulated_nmnist(
    root: str | Path | None = None,
    split: str = "train",
    limit: int | None = None,
    seed: int = 0,
    transform: Callable[[np.ndarray], Any] | None = None,
    progress: bool = False,
    keep: bool = False,
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
    return SimulatedImages(
        images, labels, tuple(str(i) for i in range(10)), sim, "nmnist-sim", split, seed, transform, progress,
        keep, view=nmnist_view,
    )


def simulated_cifar10dvs(
    root: str | Path | None = None,
    split: str = "train",
    limit_per_class: int | None = None,
    seed: int = 0,
    transform: Callable[[np.ndarray], Any] | None = None,
    progress: bool = False,
    keep: bool = False,
) -> SimulatedImages:
    """CIFAR10-DVS-like recordings (128×128) simulated from the real CIFAR-10 images.

    ``split`` picks ``<root>/CIFAR10/train`` or ``/test``; images are converted to grey and
    up-sampled to 112×112 at the centre of the 128×128 sensor, then moved in saccades.
    """
    from eventsnn.paths import shared_data_dir

    base = Path(root) if root is not None else shared_data_dir()
    folder = base / "CIFAR10" / split if (base / "CIFAR10").is_dir() else base / split
    images, labels, classes = load_image_folder(folder, limit_per_class)
    sim = SaccadeSimulator(sensor_size=(128, 128, 2), amplitude=6.0, dt_us=4_000, noise_rate_hz=0.05)
    return SimulatedImages(
        images, labels, tuple(classes), sim, "cifar10dvs-sim", split, seed, transform, progress, keep,
        view=cifar10dvs_view,
    )
