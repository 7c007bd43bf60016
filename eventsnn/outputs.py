"""Where results go: refusing to overwrite, and writing files so that none is ever half-written.

Every file eventsnn writes (checkpoints, HDF5 datasets, JSON/CSV results, pictures) goes through
this module:

- :func:`atomic_path` yields a temporary name next to the destination (``<name>.tmp-<pid>``, or
  ``<stem>.tmp-<pid><suffix>`` so writers that look at the suffix, such as matplotlib, still
  see it) and renames it over the destination only when the ``with`` block ends normally; on an
  exception (including ``KeyboardInterrupt`` and the ``SystemExit`` that the command line raises
  on SIGTERM) the temporary file is removed. :func:`write_text`, :func:`write_json`,
  :func:`write_csv`, :func:`save_figure` and :func:`save_torch` are built on it.
- :func:`atomic_dir` does the same for a whole folder (a cache entry: several files that are
  valid only together): filled under a temporary name, renamed into place in one step; when
  another process got there first the folder is left as it is.
- :func:`remove_stale_temporaries` deletes the temporaries that processes killed with SIGKILL
  left behind (those whose process no longer exists).
- :func:`check_output_file` / :func:`check_output_dir` check a destination *before* any work
  starts: an existing result is refused unless ``overwrite`` (or, for run folders, ``resume``)
  is given, and a destination that cannot be created (under a regular file, a folder where a
  file is expected, ...) raises :class:`~eventsnn.errors.OutputPathError` naming it.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from eventsnn.errors import OutputExistsError, OutputPathError

__all__ = [
    "atomic_dir",
    "atomic_path",
    "check_output_dir",
    "check_output_file",
    "remove_stale_temporaries",
    "save_figure",
    "save_torch",
    "temporary_name",
    "write_csv",
    "write_json",
    "write_text",
]

_TMP = re.compile(r"\.tmp-\d+")


def temporary_name(path: str | Path, pid: int | None = None) -> Path:
    """The temporary file this process writes ``path`` through (same folder, same suffix)."""
    path = Path(path)
    pid = os.getpid() if pid is None else pid
    return path.with_name(f"{path.stem}.tmp-{pid}{path.suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | Path, folders: bool = False) -> list[Path]:
    """Delete the temporaries of ``path`` (see :func:`temporary_name`) left by processes that no
    longer run, e.g. a run killed with SIGKILL; returns what was removed. ``folders``: the
    temporaries are folders (:func:`atomic_dir`), not files."""
    path = Path(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    pattern = re.compile(re.escape(path.stem) + r"\.tmp-(\d+)" + re.escape(path.suffix))
    for cand in path.parent.iterdir():
        m = pattern.fullmatch(cand.name)
        if m is None or cand.is_dir() != folders or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            if folders:
                shutil.rmtree(cand)
            else:
                cand.unlink()
            removed.append(cand)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through; rename it over ``path`` on success.

    The folder of ``path`` is created. Anything raised inside the block (also
    ``KeyboardInterrupt`` / ``SystemExit``) removes the temporary file and propagates.
    """
    path = Path(path)
    _make_parent(path, "output")
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a new, empty temporary folder to fill; rename it to ``path`` in one step when the
    ``with`` block ends normally.

    The temporaries of processes that no longer run are removed first. Anything raised inside
    the block removes the temporary folder and propagates.

    Raises:
        FileExistsError: ``path`` exists (and is not empty) when the block ends, e.g. another
            process wrote it meanwhile; it is left as it is and the temporary folder removed.
    """
    path = Path(path)
    _make_parent(path, "output")
    remove_stale_temporaries(path, folders=True)
    tmp = temporary_name(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.rename(tmp, path)  # atomic; fails on a non-empty folder, never merges
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or path.exists():
                raise FileExistsError(errno.EEXIST, "written meanwhile by another process", str(path)) from exc
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    tolist = getattr(o, "tolist", None)  # torch tensors
    if callable(tolist):
        return tolist()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON (numpy / torch scalars and arrays converted) atomically."""
    return write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]], fields: Sequence[str]) -> Path:
    """Write ``rows`` (dicts; keys outside ``fields`` are ignored, missing ones left empty) as CSV
    with header ``fields``, atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k) for k in fields})
    return write_text(path, buf.getvalue())


def save_figure(fig: Any, path: str | Path, dpi: float = 110, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (the format follows the suffix; ``savefig_kwargs`` go
    to ``fig.savefig``) and close it if pyplot manages it (a figure made without pyplot, as
    :mod:`eventsnn.viz` makes them, needs no closing)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, **savefig_kwargs)
    if getattr(fig.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` atomically, flushed and fsync'ed before the rename."""
    import torch

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def _make_parent(path: Path, what: str, option: str | None = None, create: bool = True) -> None:
    """Create the folder of ``path`` (``create=False``: only check that it could be created)
    or raise :class:`OutputPathError` naming it."""
    _make_folder(path.parent, path, what, option, create)


def _make_folder(parent: Path, path: Path, what: str, option: str | None, create: bool) -> None:
    """Create folder ``parent`` (or check that it could be) for ``path``, named in errors."""
    label = f"{option} " if option else ""
    for p in (parent, *parent.parents):
        if p.exists() and not p.is_dir():
            raise OutputPathError(f"{label}{path}: cannot write the {what} there, {p} is a file, not a folder")
        if p.exists():
            break
    if not create:
        if not os.access(p, os.W_OK):
            raise OutputPathError(f"{label}{path}: the folder {p} is not writable")
        return
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"{label}{path}: cannot create the folder {parent} ({exc.strerror or exc})") from exc
    if not os.access(parent, os.W_OK):
        raise OutputPathError(f"{label}{path}: the folder {parent} is not writable")


def check_output_file(
    path: str | Path, overwrite: bool = False, option: str = "--out", what: str = "output file",
    create: bool = True,
) -> Path:
    """Check, before any work, that ``path`` can be written as a file.

    Its folder is created (``create=False``: only checked, so that a run failing later leaves
    nothing behind; :func:`atomic_path` creates it when the file is written). Temporaries of
    ``path`` that killed runs left are removed.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False (the message names the
            file and the ``--overwrite`` way out).
        OutputPathError: ``path`` is a folder, or lies under a regular file, or its folder
            cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file name for the {what}")
    _make_parent(path, what, option, create)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{option} {path}: the {what} exists; pass --overwrite to replace it")
    remove_stale_temporaries(path)
    return path


def check_output_dir(
    path: str | Path,
    overwrite: bool = False,
    resume: bool = False,
    option: str = "--out",
    what: str = "results",
    markers: Sequence[str] | None = None,
    resumable: bool = False,
    create: bool = True,
) -> Path:
    """Check, before any work, that folder ``path`` can receive new results.

    The folder is created (``create=False``: only checked, so that a run failing later leaves
    nothing behind).

    A folder that does not exist, or holds none of ``markers`` (names of files that show earlier
    results; ``None``: any file at all, temporaries aside), is fine. One that does is refused
    unless ``overwrite`` or ``resume`` is given.

    Raises:
        OutputExistsError: earlier results are there; the message names the folder and the ways
            out (``--resume`` too when ``resumable``, ``--overwrite``).
        OutputPathError: ``path`` is a regular file, lies under one, or cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: is a file, not a folder for the {what}")
    _make_folder(path, path, what, option, create)
    if overwrite or resume or not path.is_dir():
        return path
    if markers is None:
        found = sorted(p.name for p in path.iterdir() if not _TMP.search(p.name))
    else:
        found = [n for n in markers if (path / n).exists()]
    if found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        ways = "pass --resume to continue it or --overwrite to replace it" if resumable else (
            "pass --overwrite to replace them")
        raise OutputExistsError(f"{option} {path}: holds earlier {what} ({shown}); {ways}")
    return path
