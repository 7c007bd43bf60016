"""Where the shared, read-only data lives.

The data folder is ``$EVENTSNN_DATA`` when set, otherwise ``../shared/data`` next to the
repository checkout (the layout used in development and CI), otherwise ``./shared/data``.
Data is read in place and never copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EVENTSNN_DATA"
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
