"""The command line: help for every command."""

from __future__ import annotations

import pytest

from eventsnn.cli import build_parser, main


def test_help_lists_commands_and_each_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "compress" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: eventsnn" in capsys.readouterr().out
