"""eventsnn.outputs: atomic writes, stale temporaries, refusing to overwrite."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eventsnn.errors import OutputExistsError, OutputPathError
from eventsnn.outputs import (
    atomic_path,
    check_output_dir,
    check_output_file,
    remove_stale_temporaries,
    temporary_name,
    write_csv,
    write_json,
)


def test_atomic_path_renames_on_success_and_removes_on_error(tmp_path):
    out = tmp_path / "sub" / "r.json"
    write_json(out, {"a": 1})
    assert json.loads(out.read_text()) == {"a": 1}
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert json.loads(out.read_text()) == {"a": 1}  # the old result is untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json"]  # no temporary left


def test_temporary_keeps_suffix(tmp_path):
    assert temporary_name(tmp_path / "a.png", 12).name == "a.tmp-12.png"


def test_write_csv_header_and_missing_keys(tmp_path):
    p = write_csv(tmp_path / "t.csv", [{"a": 1, "b": 2, "c": 9}, {"a": 3}], ["a", "b"])
    assert p.read_text().splitlines() == ["a,b", "1,2", "3,"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    out = tmp_path / "f.h5"
    stale = temporary_name(out, dead_pid)
    live = temporary_name(out, os.getppid())  # a process that runs
    other = tmp_path / "g.tmp-1.h5"
    for p in (stale, live, other):
        p.write_text("x")
    assert remove_stale_temporaries(out) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_check_output_file(tmp_path):
    f = tmp_path / "x.h5"
    assert check_output_file(f) == f
    f.write_text("old")
    with pytest.raises(OutputExistsError, match=r"x\.h5.*--overwrite"):
        check_output_file(f)
    assert check_output_file(f, overwrite=True) == f
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputPathError, match=r"is a file, not a folder"):
        check_output_file(f / "y.h5", overwrite=True)


def test_check_output_dir(tmp_path):
    run = tmp_path / "run"
    assert check_output_dir(run) == run and run.is_dir()
    (run / "last.pt").write_text("x")
    with pytest.raises(OutputExistsError, match=r"run: holds earlier results \(last\.pt\).*--resume.*--overwrite"):
        check_output_dir(run, markers=["last.pt", "best.pt"], resumable=True)
    assert check_output_dir(run, resume=True) == run
    assert check_output_dir(run, markers=["results.json"]) == run  # no marker present
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "deeper")
