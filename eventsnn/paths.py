"""Where the shared, read-only data lives, and where eventsnn keeps its cache.

The data folder is ``$EVENTSNN_DATA`` when set, otherwise ``../shared/data`` next to the
repository checkout (the layout used in development and CI), otherwise ``./shared/data``.
Data is read in place and never copied into the repository.

The cache folder (simulated training sets and pre-trained weights, see
:mod:`eventsnn.train.cache`) is ``$EVENTSNN_CACHE`` when set, otherwise the user's cache folder:
``$XDG_CACHE_HOME/eventsnn`` or ``~/.cache/eventsnn`` (Linux), ``~/Library/Caches/eventsnn``
(macOS), ``%LOCALAPPDATA%\\eventsnn\\Cache`` (Windows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "EVENTSNN_DATA"
CACHE_ENV_VAR = "EVENTSNN_CACHE"
REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """Return the folder holding the shared datasets (it may not exist)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    candidate = REPO_ROOT.parent / "shared" / "data"
    if candidate.is_dir():
        return candidate
    return (Path.cwd().parent / "shared" / "data").resolve()


def cache_dir(given: str | Path | None = None) -> Path:
    """The cache folder: ``given`` (``--cache-dir``), else ``$EVENTSNN_CACHE``, else the user's
    cache folder (see the module docstring). It may not exist yet."""
    if given is not None:
        return Path(given).expanduser().resolve()
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "eventsnn"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "eventsnn" / "Cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eventsnn"
