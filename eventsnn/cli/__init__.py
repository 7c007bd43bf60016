"""The ``eventsnn`` command line: a thin layer over the Python API.

Each subcommand lives in its own module of this package and defines
``register(subparsers) -> None`` (adds its parser, setting ``func=run``) and ``run(args) -> int``.
Modules are discovered automatically, so adding a command means adding one file.

Any :class:`eventsnn.errors.EventsnnError` (and missing files) becomes one line on stderr and
exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from eventsnn._version import __version__
from eventsnn.errors import EventsnnError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (EventsnnError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"eventsnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eventsnn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
