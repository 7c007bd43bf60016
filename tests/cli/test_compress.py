"""``eventsnn compress``: the file it writes, one-line errors with non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eventsnn.datasets import CompressedDataset


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eventsnn", *args], capture_output=True, text=True, timeout=300)


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
