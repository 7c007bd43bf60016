"""SIGINT, SIGTERM and SIGKILL: a stopped command leaves no temporary file and no process behind.

SIGTERM (what ``timeout``, ``kill`` and schedulers send) unwinds like Ctrl-C (SIGINT, status
130): status 143, one line, temporaries removed, worker processes stopped. After SIGKILL nothing
can clean up: the workers die with their parent (within a few seconds) and the next run to the
same ``--out`` removes the temporary file the killed one left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventsnn.cli import Terminated, sigterm_raises
from eventsnn.datasets import CompressedDataset

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process checks read /proc")

REPO = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st is not None and int(st[1]) == pid:
                kids.append(int(d.name))
    return kids


def _running(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"  # a zombie has ended, only not yet reaped


def _compress(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "eventsnn", "compress", "--dataset", "synthetic", "--T", "2",
            "--out", str(out), "--no-progress", *extra]


def _start_compress(out: Path) -> subprocess.Popen:
    """Start a 2-worker compress of the 2,000 synthetic recordings to ``out``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(_compress(out, "--workers", "2"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _workers(proc: subprocess.Popen) -> list[int]:
    """The worker processes ``proc`` spawned so far (not multiprocessing's resource tracker)."""
    return [k for k in _children(proc.pid) if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text(errors="replace")]


def _start_and_wait_for_workers(out: Path) -> tuple[subprocess.Popen, list[int]]:
    """Start a 2-worker compress of the 2,000 synthetic recordings; return once its workers run
    and its temporary file exists (mid-run)."""
    proc = _start_compress(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_workers(proc)) == 2 and list(out.parent.glob("*.tmp-*")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    return proc, _children(proc.pid)


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _running(p)]
        if not left:
            return []
        time.sleep(0.2)
    return [p for p in pids if _running(p)]


def test_sigterm_raises_terminated_and_unwinds_finally() -> None:
    before = signal.getsignal(signal.SIGTERM)
    cleaned = []
    with pytest.raises(Terminated) as exc, sigterm_raises():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            cleaned.append(True)
    assert exc.value.code == 143 and cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("sig, status, line", [
    (signal.SIGTERM, 143, "eventsnn compress: terminated (SIGTERM)"),
    (signal.SIGINT, 130, "eventsnn compress: interrupted"),  # Ctrl-C; the workers ignore it, the parent stops them
], ids=["SIGTERM", "SIGINT"])
def test_compress_signal_mid_run_stops_workers_and_removes_the_temporary(tmp_path, sig, status, line) -> None:
    out = tmp_path / "out" / "s.h5"
    out.parent.mkdir()
    proc, kids = _start_and_wait_for_workers(out)
    assert len(kids) >= 2  # two workers (and multiprocessing's resource tracker)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.strip().splitlines() == [line]
    assert list(out.parent.iterdir()) == []
    assert _wait_gone(kids, 5) == []


def test_sigterm_while_the_workers_start_prints_one_line_and_leaves_no_worker(tmp_path) -> None:
    """A worker still reading its pickled arguments holds SIGTERM blocked: stopping it must not
    wait for it (it would outlive the command and print a traceback into its stderr)."""
    out = tmp_path / "out" / "s.h5"
    out.parent.mkdir()
    proc = _start_compress(out)
    deadline, workers = time.monotonic() + 120, []
    while time.monotonic() < deadline and proc.poll() is None and not workers:
        workers = _workers(proc)
        time.sleep(0.01)
    assert workers and proc.poll() is None, proc.communicate()
    kids = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip().splitlines() == ["eventsnn compress: terminated (SIGTERM)"]
    assert _wait_gone(kids, 5) == []
    assert list(out.parent.iterdir()) == []


def test_compress_sigkill_workers_die_with_parent_and_next_run_removes_the_leftover(tmp_path) -> None:
    out = tmp_path / "out" / "s.h5"
    out.parent.mkdir()
    proc, kids = _start_and_wait_for_workers(out)
    proc.kill()
    proc.communicate(timeout=60)
    assert _wait_gone(kids, 5) == []
    (stale,) = out.parent.glob("*.tmp-*")
    assert stale.name == f"s.tmp-{proc.pid}.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(_compress(out, "--limit", "10"), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.parent.iterdir()] == ["s.h5"]
    assert len(CompressedDataset(out, None)) == 20
