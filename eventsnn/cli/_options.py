"""What several commands share: ``--threads``, ``--overwrite`` and the ``--out`` folder check,
integer options checked while parsing, one-line warnings."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from eventsnn.errors import InvalidParameterError
from eventsnn.outputs import check_output_dir


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low``; anything else is one line naming the option
    (``eventsnn <command>: error: argument --x: must be >= 1, got 0``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def key_value(text: str) -> tuple[str, Any]:
    """argparse type of ``KEY=VALUE`` options: ``(key, value)``, the value parsed as JSON when
    it is JSON (numbers, true/false, lists), else kept as text; dashes in the key become ``_``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip().replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.strip().replace("-", "_"), value


def add_overwrite(p: argparse.ArgumentParser, what: str = "results") -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace earlier {what} in --out (default: refuse to)",
    )


def set_threads(threads: int) -> None:
    """Check ``--threads`` (>= 1) and set torch's CPU threads.

    Raises:
        InvalidParameterError: ``threads < 1``.
    """
    if threads < 1:
        raise InvalidParameterError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def warn(command: str, message: str) -> None:
    """One line on stderr: ``eventsnn <command>: warning: <message>``."""
    print(f"eventsnn {command}: warning: {' '.join(str(message).split())}", file=sys.stderr)


@contextlib.contextmanager
def output_dir(
    path: str | Path, overwrite: bool, markers: Sequence[str] | None = None, what: str = "results"
) -> Iterator[Path]:
    """Check folder ``path`` for earlier results (:func:`eventsnn.outputs.check_output_dir`)
    before the work in the ``with`` block; if the block fails, remove the folders this created
    that are still empty, so that a failed command leaves nothing behind.

    Raises:
        OutputExistsError, OutputPathError: see :func:`~eventsnn.outputs.check_output_dir`.
    """
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    check_output_dir(path, overwrite, markers=markers, what=what)
    try:
        yield path
    except BaseException:
        for p in missing:  # deepest first
            try:
                p.rmdir()
            except OSError:  # not empty (or gone): keep it and its parents
                break
        raise
