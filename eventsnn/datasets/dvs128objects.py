"""DVS128Objects: long real DVS128 (jAER AEDAT 2.0) recordings of hand-held objects, by session.

Each file is one 17-23 s recording of one object moved in front of the sensor; samples for
training are windows cut from them (:class:`eventsnn.datasets.slicing.SlicedRecordings`,
300 ms by default). Windows of one recording are near-duplicates: split by recording or by
session (``recordings``/``groups`` and ``sessions`` of the sliced dataset), never by window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eventsnn.datasets._tonic import resolve_root
from eventsnn.datasets.base import EventDataset
from eventsnn.datasets.slicing import SlicedRecordings, TimeWindows
from eventsnn.errors import DatasetNotFoundError, InvalidParameterError
from eventsnn.io.aedat2 import DVS128_SENSOR_SIZE, read_aedat2_events

__all__ = ["CLASSES", "DVS128Objects", "class_selection", "object_windows"]

FOLDER = "DVS128Objects"
CLASSES = ("box", "box_cutter", "cellphone", "mech_pencil", "mouse", "mug", "scissors")
"""Class names (the class folder names), alphabetical; the label is the index here."""

LAYOUT = f"<root>/{FOLDER}/<session>/<class>/*.aedat (class folders: {', '.join(CLASSES)})"


def class_selection(classes: str | Sequence[str]) -> tuple[str, ...]:
    """The class names a ``classes`` option keeps, in :data:`CLASSES` order: ``"all"``, a
    comma-separated string (``"box,mouse,scissors"``, as ``--dataset-option`` gives it) or a list
    of names; an unknown or missing name raises InvalidParameterError naming the valid ones."""
    if isinstance(classes, str):
        names = list(CLASSES) if classes.strip() == "all" else [c.strip() for c in classes.split(",") if c.strip()]
    elif isinstance(classes, Sequence):
        names = [str(c) for c in classes]
    else:
        raise InvalidParameterError(f"dvs128objects: classes must be 'all' or class names, got {classes!r}")
    unknown = sorted(set(names) - set(CLASSES))
    if unknown or not names:
        raise InvalidParameterError(
            f"dvs128objects: classes must be 'all' or names among {', '.join(CLASSES)}; got {classes!r}")
    return tuple(c for c in CLASSES if c in names)


def _session_folders(folder: Path, sessions: Sequence[str] | None) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.is_dir())
    if sessions is None:
        return found
    if isinstance(sessions, str):
        raise InvalidParameterError(f"dvs128objects: sessions must be a list of names, got {sessions!r}")
    missing = [s for s in sessions if not (folder / s).is_dir()]
    if missing:
        raise DatasetNotFoundError(
            f"DVS128Objects: no session folder {folder / missing[0]}; sessions found: "
            f"{', '.join(p.name for p in found) or 'none'}"
        )
    return [folder / s for s in sorted(set(sessions))]


class DVS128Objects(EventDataset):
    """Long DVS128 recordings of 7 hand-held objects: 128×128 sensor, 2 polarities.

    Layout expected::

        <root>/DVS128Objects/<session>/<class>/<name>.aedat      (jAER AEDAT 2.0)

    ``classes`` are the class folder names in :data:`CLASSES` order; a session may lack some
    classes. Recordings are ordered by session name, then class, then file name. Attributes per
    recording: ``files``, ``targets``, ``sessions`` (the session folder name) and
    ``recording_ids`` (``"<session>/<class>/<file stem>"``). ``sessions=`` selects sessions by
    folder name (default: every session folder). ``split="all"`` (the only split) is every
    selected recording; train/test splits by session or recording are made from ``sessions``
    and the recording indices, never by window. ``classes=`` keeps only the recordings of
    those classes (:func:`class_selection`; the labels stay indices into :data:`CLASSES`, so a
    model still has 7 outputs): e.g. test on the classes another session also has. Timestamps
    start at 0 µs (see :func:`eventsnn.io.read_aedat2_events`).
    """

    name = "dvs128objects"
    sensor_size = DVS128_SENSOR_SIZE
    classes = CLASSES
    splits = ("all",)

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "all",
        transform: Callable[[np.ndarray], Any] | None = None,
        sessions: Sequence[str] | None = None,
        classes: str | Sequence[str] = "all",
    ) -> None:
        super().__init__(split, transform)
        self.check_split(split, " (split by session or recording from the sessions/recordings attributes)")
        self.kept_classes = class_selection(classes)
        folder = resolve_root(root, FOLDER) / FOLDER
        if not folder.is_dir():
            raise DatasetNotFoundError(f"DVS128Objects not found: no folder {folder}; expected {LAYOUT}")
        self.files: list[str] = []
        self.sessions: list[str] = []
        self.recording_ids: list[str] = []
        for session in _session_folders(folder, sessions):
            self._add_session(session)
        if not self.files:
            which = "" if self.kept_classes == CLASSES else f" of the classes {', '.join(self.kept_classes)}"
            raise DatasetNotFoundError(f"DVS128Objects: no .aedat files{which} under {folder}; expected {LAYOUT}")

    def _add_session(self, session: Path) -> None:
        unknown = sorted(p.name for p in session.iterdir() if p.is_dir() and p.name not in CLASSES)
        if unknown:
            raise DatasetNotFoundError(
                f"DVS128Objects: unknown class folder {session / unknown[0]}; expected {LAYOUT}"
            )
        for label, cls in enumerate(CLASSES):
            if cls not in self.kept_classes:
                continue
            for f in sorted((session / cls).glob("*.aedat")):
                self.files.append(str(f))
                self.targets.append(label)
                self.sessions.append(session.name)
                self.recording_ids.append(f"{session.name}/{cls}/{f.stem}")

    def read(self, index: int) -> np.ndarray:
        return read_aedat2_events(self.files[index], self.sensor_size)


def _check_options(window_us: int, train_stride_us: int, denoise_us: int, windows: str) -> None:
    for name, value, least in (("window_us", window_us, 1_000), ("train_stride_us", train_stride_us, 1),
                               ("denoise_us", denoise_us, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise InvalidParameterError(f"dvs128objects: {name} must be an integer >= {least} µs, got {value!r}")
    if train_stride_us > window_us:
        raise InvalidParameterError(
            f"dvs128objects: train_stride_us ({train_stride_us}) must be <= window_us ({window_us})")
    if windows not in ("eval", "train"):
        raise InvalidParameterError(f"dvs128objects: windows must be 'eval' or 'train', got {windows!r}")


def object_windows(
    root: str | Path | None = None,
    split: str = "all",
    transform: Callable[[np.ndarray], Any] | None = None,
    window_us: int = 300_000,
    train_stride_us: int = 50_000,
    denoise_us: int = 0,
    normalize: str = "none",
    target_spread: float = 16.0,
    classes: str | Sequence[str] = "all",
    windows: str = "eval",
    sessions: Sequence[str] | None = None,
) -> SlicedRecordings:
    """The samples of the registered dataset ``dvs128objects``: windows of the recordings.

    The keywords but ``windows`` and ``sessions`` are the dataset's options
    (``DATASETS["dvs128objects"].options``, with these defaults).

    ``windows="eval"`` (default): consecutive windows of ``window_us`` µs that never overlap
    (what evaluation, ``compress`` and ``show`` use); ``"train"``: a window every
    ``train_stride_us`` µs (overlapping when shorter than the window; the training part of a
    split). ``denoise_us > 0``: each recording goes through a causal
    :class:`~eventsnn.transforms.BackgroundActivityFilter` (8 neighbours) before it is cut;
    ``normalize`` (``"none"``, ``"center"``, ``"scale"``): each window's events are
    re-centred / re-scaled to a median spread of ``target_spread`` px
    (:class:`~eventsnn.transforms.NormalizePosition`); ``classes`` (``"all"``, or names such as
    ``"box,mouse,scissors"``): only the recordings of those classes (labels unchanged, see
    :class:`DVS128Objects`). The windows carry ``recordings`` (=
    ``groups``), ``recording_ids`` and ``sessions``: split them by recording or by session.
    """
    from eventsnn.transforms import window_preprocessing

    _check_options(window_us, train_stride_us, denoise_us, windows)
    source = DVS128Objects(root, split, sessions=sessions, classes=classes)
    stride = int(train_stride_us) if windows == "train" else int(window_us)
    denoise, norm = window_preprocessing(source.sensor_size, int(denoise_us), normalize, float(target_spread))
    return SlicedRecordings(source, TimeWindows(int(window_us), stride), transform=transform,
                            recording_transform=denoise, window_transform=norm, cache_size=len(source))
