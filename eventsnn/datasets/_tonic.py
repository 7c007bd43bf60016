"""Offline access to Tonic's dataset classes.

Tonic's constructors download whenever their ``_check_exists`` fails (and N-MNIST insists on the
full 10,000 files plus the archive). eventsnn builds a subclass with the *same class name* (Tonic
derives the folder from it) whose ``_check_exists`` accepts any number of already-extracted
samples, so Tonic lists and reads the files on disk and never touches the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsnn.errors import DatasetNotFoundError


def resolve_root(root: str | Path | None, folder: str) -> Path:
    """Return ``save_to`` for Tonic: the folder that contains ``folder``.

    ``root`` may be the parent of ``folder`` (Tonic's ``save_to``) or ``folder`` itself. With
    ``root=None`` the shared data folder is used.
    """
    from eventsnn.paths import shared_data_dir

    base = Path(root).expanduser() if root is not None else shared_data_dir()
    if not base.exists():
        raise DatasetNotFoundError(f"dataset root {base} does not exist")
    if not base.is_dir():
        raise DatasetNotFoundError(f"dataset root {base} is not a folder")
    if (base / folder).is_dir():
        return base
    if base.name == folder:
        return base.parent
    return base  # the caller reports base/folder as missing, with the expected layout


def offline_tonic_split(tonic_cls: type, save_to: Path, split: str) -> tuple[Any, list[str], list[int]]:
    """Tonic's ``"train"`` or ``"test"`` split of ``tonic_cls`` under ``save_to``, read offline
    (:func:`offline_tonic_dataset`): the Tonic dataset, its sample files and their int labels."""
    tonic_ds = offline_tonic_dataset(tonic_cls, save_to=str(save_to), train=(split == "train"))
    return tonic_ds, list(tonic_ds.data), [int(t) for t in tonic_ds.targets]


def offline_tonic_dataset(tonic_cls: type, **kwargs):
    """``tonic_cls(**kwargs)`` (e.g. ``tonic.datasets.NMNIST, save_to=root, train=True,
    transform=...``) on the samples already extracted on disk: a subclass of the same name (Tonic
    derives the folder from it) without the existence check, so it never downloads."""
    offline_cls = type(tonic_cls.__name__, (tonic_cls,), {"_check_exists": lambda self: True})
    return offline_cls(**kwargs)
