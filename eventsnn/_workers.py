"""Worker processes that never outlive the command that started them.

:func:`worker_pool` starts ``spawn`` worker processes (forking after torch/OpenMP threads
started can deadlock) that

- die with their parent: on Linux the kernel sends them SIGKILL when the parent ends, however it
  ends (``prctl(PR_SET_PDEATHSIG)``), and everywhere a watchdog thread ends a worker whose parent
  process id changed (the parent died and it was re-parented);
- ignore SIGINT (Ctrl-C reaches the whole process group; the parent stops them);
- are killed at once when the ``with`` block ends with an exception (an error, Ctrl-C, or
  the :class:`eventsnn.cli.Terminated` that SIGTERM raises), instead of finishing their tasks.

With no worker left, multiprocessing's resource-tracker process reads end-of-file and exits too.
:func:`ordered_map` runs a function over items in the pool with a bounded number of results in
flight, so memory stays bounded by ``ahead`` results.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["die_with_parent", "ordered_map", "release_free_memory", "worker_pool"]

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_END = object()
_DEFERRED = {signal.SIGINT, signal.SIGTERM}


def die_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """Make this process end when process ``parent_pid`` (its parent) ends."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def release_free_memory() -> None:
    """Hand the memory this process freed back to the operating system (glibc's
    ``malloc_trim``; nothing elsewhere). After a task that allocated and freed hundreds of MB,
    the freed pieces otherwise stay in the process, and its footprint creeps up task by task."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)


def _start_worker(parent_pid: int, threads: int | None, initializer: Callable[..., None] | None,
                  initargs: tuple) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if initializer is not None:
        initializer(*initargs)


def _start_all(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker now, with SIGINT/SIGTERM held back until they are started.

    Starting one means writing its pickled arguments into a pipe that it reads only once its
    interpreter is up (seconds); a signal that aborted the write would leave it reading truncated
    data (and printing a traceback). A signal that arrives meanwhile is delivered right after.
    """
    mask = getattr(signal, "pthread_sigmask", None)  # POSIX only
    previous = mask(signal.SIG_BLOCK, _DEFERRED) if mask else None
    try:
        for _ in range(workers):  # the executor starts one process per task while none is idle
            pool.submit(os.getpid)
    finally:
        if mask:
            mask(signal.SIG_SETMASK, previous)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, dropping the tasks not yet done.

    SIGKILL, not SIGTERM: a worker still starting (reading its pickled arguments) has SIGINT and
    SIGTERM blocked (the mask :func:`_start_all` held while it was spawned), so SIGTERM would wait
    until it is up, and if this process has exited by then the worker reads a closed pipe and
    prints a traceback into the command's stderr. Workers hold nothing to clean up: every file is
    written by this process.
    """
    kill = getattr(pool, "kill_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def worker_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    threads: int | None = None,
) -> Iterator[ProcessPoolExecutor]:
    """A :class:`ProcessPoolExecutor` of ``workers`` spawned processes that die with this one.

    ``initializer(*initargs)`` runs in each worker (``initargs`` are pickled); ``threads``
    sets torch's CPU threads there. Leaving the block normally waits for the tasks; leaving it
    with an exception terminates the workers at once.
    """
    pool = ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_start_worker,
        initargs=(os.getpid(), threads, initializer, initargs),
    )
    try:
        _start_all(pool, workers)
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def ordered_map(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """``fn(item)`` for each item, in order, computed in ``pool`` with at most ``ahead`` tasks
    submitted and not yet consumed (``Executor.map`` submits every task at once, and the results
    of fast workers pile up)."""
    it = iter(items)
    pending: deque[Future[R]] = deque()
    for item in it:
        pending.append(pool.submit(fn, item))
        if len(pending) >= max(1, ahead):
            break
    while pending:
        result = pending.popleft().result()
        nxt: Any = next(it, _END)
        if nxt is not _END:
            pending.append(pool.submit(fn, nxt))
        yield result
