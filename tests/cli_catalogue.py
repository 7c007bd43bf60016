"""The catalogue of bad command lines and the one assertion every one of them must pass.

What a user relies on when a command line is wrong (docs/cli.md, *Command line*): exit status 2,
exactly one line on stderr that starts ``eventsnn <command>: error:`` and names the file or
option at fault, no traceback, and nothing left behind - no file or folder created, none changed
(earlier results included).

A :class:`Case` is data: the command, its arguments, the text the error line must name and
any further text it must hold (what it says about the fault), with ``{placeholders}`` for the
files the test module builds (``paths``). :func:`check_in_process`
runs one through :func:`eventsnn.cli.main` (fast; ``capsys`` captures stderr),
:func:`check_subprocess` through ``python -m eventsnn`` (proves that no traceback is printed by
anything at all). Test modules import both and add their own cases to the table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from eventsnn.cli import main

__all__ = ["Case", "check_in_process", "check_subprocess", "snapshot"]

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    """One bad command line: ``eventsnn <command> <args>``, whose one error line names ``names``
    and holds each text of ``also``.

    ``args``, ``names`` and ``also`` may hold ``{key}`` placeholders, filled from the ``paths``
    mapping given to the checks (files and folders the test module built).
    """

    id: str
    command: str
    args: tuple[str, ...]
    names: str
    also: tuple[str, ...] = ()

    def argv(self, paths: dict[str, Path]) -> list[str]:
        return [self.command, *(a.format(**paths) for a in self.args)]

    def named(self, paths: dict[str, Path]) -> str:
        return self.names.format(**paths)

    def said(self, paths: dict[str, Path]) -> list[str]:
        return [text.format(**paths) for text in self.also]


def case(id: str, command: str, *args: str, names: str, also: tuple[str, ...] = ()) -> Case:
    """Shorthand for a table row: ``case("eval-T0", "eval", "{ckpt}", "--T", "0", names="--T")``."""
    return Case(id, command, tuple(args), names, tuple(also))


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``: relative path -> (size, modification time in ns)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns if p.is_file() else 0)
    return out


def assert_one_line_error(rc: int, err: str, c: Case, paths: dict[str, Path], before: dict, root: Path) -> None:
    """The shared assertion: status 2, one line naming the culprit, no traceback, nothing left."""
    assert "Traceback" not in err, f"{c.id}: traceback on stderr:\n{err}"
    lines = err.strip().splitlines()
    assert rc == 2, f"{c.id}: exit status {rc}, stderr:\n{err}"
    assert len(lines) == 1, f"{c.id}: {len(lines)} lines on stderr:\n{err}"
    assert lines[0].startswith(f"eventsnn {c.command}: error: "), f"{c.id}: {lines[0]}"
    assert c.named(paths) in lines[0], f"{c.id}: the error does not name {c.named(paths)!r}: {lines[0]}"
    for text in c.said(paths):
        assert text in lines[0], f"{c.id}: the error does not say {text!r}: {lines[0]}"
    after = snapshot(root)
    assert after == before, f"{c.id}: files left behind or changed: {sorted(set(after.items()) ^ set(before.items()))}"


def check_in_process(c: Case, paths: dict[str, Path], capsys, root: Path) -> str:
    """Run ``c`` through :func:`eventsnn.cli.main` and assert :func:`assert_one_line_error`;
    ``root`` holds every file the command could write (make it the working folder). Returns
    the error line."""
    capsys.readouterr()
    before = snapshot(root)
    rc = main(c.argv(paths))
    err = capsys.readouterr().err
    assert_one_line_error(rc, err, c, paths, before, root)
    return err.strip()


def check_subprocess(c: Case, paths: dict[str, Path], root: Path, timeout: float = 300) -> str:
    """Run ``c`` as ``python -m eventsnn`` in ``root`` and assert :func:`assert_one_line_error`."""
    before = snapshot(root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "eventsnn", *c.argv(paths)], capture_output=True, text=True,
                       timeout=timeout, cwd=root, env=env)
    assert_one_line_error(r.returncode, r.stderr, c, paths, before, root)
    return r.stderr.strip()
