"""The ``eventsnn`` command line: a thin layer over the Python API.

Each subcommand lives in its own module of this package and defines
``register(subparsers) -> None`` (adds its parser, setting ``func=run``) and ``run(args) -> int``.
Modules are discovered automatically, so adding a command means adding one file (modules whose
name starts with ``_`` hold shared helpers).

Bad input - any :class:`eventsnn.errors.EventsnnError`, missing files, and options argparse
rejects - becomes one line on stderr and exit status 2; no traceback, no usage block.

SIGTERM (what ``timeout``, ``kill`` and job schedulers send) is turned into a
:class:`Terminated` exception, so it unwinds every ``finally`` block like Ctrl-C does: temporary
files are removed, worker processes stopped. The command prints one line and exits with
status 143 (128 + SIGTERM); Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator
from typing import NoReturn

from eventsnn._version import __version__
from eventsnn.errors import EventsnnError

__all__ = ["Terminated", "build_parser", "main", "sigterm_raises"]

#: exit status of a command stopped by SIGTERM (128 + 15, as a shell reports it)
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_INTERRUPTED = 130


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM.

    A :class:`SystemExit` (status 143), so code that catches ``Exception`` does not swallow it
    and a program that does not catch it still exits with 143 after its ``finally`` blocks ran.
    """

    def __init__(self) -> None:
        super().__init__(EXIT_TERMINATED)


class _UsageError(Exception):
    """argparse rejected the command line (the message names the option)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the caller prints it), not usage + error."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _raise_terminated(signum: int, frame: object) -> None:
    # a second SIGTERM must not interrupt the clean-up the first one started
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere, or
    outside the main thread, nothing changes); the previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eventsnn",
        description="Event-camera recordings to spiking neural networks that decide in few time steps.",
    )
    parser.add_argument("--version", action="version", version=f"eventsnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    prefix = f"eventsnn {args.command}"
    with sigterm_raises():
        try:
            return int(args.func(args) or 0)
        except (EventsnnError, FileNotFoundError, NotADirectoryError) as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Terminated:
            print(f"{prefix}: terminated (SIGTERM)", file=sys.stderr)
            return EXIT_TERMINATED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
