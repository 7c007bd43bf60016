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


def test_eval_split_help_names_val(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "val = the training run's validation recordings" in text and "else val" in text
