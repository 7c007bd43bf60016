"""The command line: help for every command, one-line errors with non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eventsnn.cli import build_parser, main
from eventsnn.datasets import CompressedDataset


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eventsnn", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_commands_and_each_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "compress" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: eventsnn" in capsys.readouterr().out


def test_compress_cli_writes_file(tmp_path, data_dir):
    out = tmp_path / "n.h5"
    r = run_cli("compress", "--dataset", "nmnist", "--root", str(data_dir), "--T", "2", "--limit", "30",
                "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "30 samples" in r.stdout
    assert len(CompressedDataset(out)) == 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--T", "0"], "T must be an integer >= 1"),
        (["--T", "2", "--ratio", "0"], "ratio must be an integer >= 1"),
        (["--T", "2", "--decay", "1.5"], "decay must be in (0, 1]"),
        (["--T", "2", "--split", "test"], "NMNIST/Test"),
    ],
)
def test_compress_cli_bad_arguments_one_line(tmp_path, data_dir, args, message):
    r = run_cli("compress", "--dataset", "nmnist", "--root", str(data_dir), "--out", str(tmp_path / "x.h5"), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith("eventsnn compress: error:") and message in lines[0]
    assert not (tmp_path / "x.h5").exists()


def test_compress_cli_missing_root(tmp_path):
    r = run_cli("compress", "--dataset", "nmnist", "--root", str(tmp_path / "nowhere"), "--T", "1",
                "--out", str(tmp_path / "x.h5"))
    assert r.returncode == 2 and "nowhere" in r.stderr and "does not exist" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_eval_split_help_names_val(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "val = the training run's validation recordings" in text and "else val" in text
