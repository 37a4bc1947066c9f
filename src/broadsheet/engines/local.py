"""The local engine: worker processes on this machine, started by forkserver, or threads of this process; results
in input order."""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import partial

from broadsheet.core.errors import BroadsheetError

FORKSERVER_PRELOAD = "broadsheet.engines._forkserver"
"""What the forkserver imports before it forks a worker (by name: this process does not import it)."""


@contextmanager
def pool(
    workers: int, initializer: Callable | None = None, initargs: tuple = (), *, threads: bool = False
) -> Iterator[Callable]:
    """``workers`` processes (or ``threads``), started now; yields ``ordered(func, items)``: ``map`` on them, in
    input order.

    A bounded number of items is in flight. With one worker everything runs in this process.
    """
    if workers <= 1 or threads:
        if initializer is not None:
            initializer(*initargs)
        if workers <= 1:
            yield map
            return
        executor: Executor = ThreadPoolExecutor(workers, thread_name_prefix="broadsheet")
    else:
        # Not multiprocessing.Pool: its worker-handling thread wakes whenever a result is readable and
        # spins while the result thread reads it, taking CPU from the workers.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([FORKSERVER_PRELOAD])  # read when the forkserver starts (once a process)
        start = (os.getpid(), initializer, initargs)
        executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=start)
    try:
        for _ in range(workers):  # start every worker now (they start on demand): they import while the caller works
            executor.submit(int)
        yield partial(_ordered, executor, 4 * workers)
    finally:
        executor.shutdown(cancel_futures=True)  # on an error, tasks not yet started are dropped, not run


def _start_worker(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    _exit_with(parent)
    if initializer is not None:
        initializer(*initargs)


def _exit_with(parent: int) -> None:
    """End this worker as soon as the process that started the pool ends, however it ends (kill -9 included).

    A worker's parent is the forkserver, not that process, and nothing else tells
    a worker blocked on its task queue that no task will ever come.
    """
    try:
        handle = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or an old kernel): ask every second
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _alive(parent):
                time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ordered(executor: Executor, window: int, func: Callable, items: Iterable) -> Iterator:
    in_flight: deque = deque()
    try:
        for item in items:
            in_flight.append(executor.submit(func, item))
            if len(in_flight) >= window:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    except BrokenProcessPool:
        raise BroadsheetError("a worker process ended abruptly (killed, or out of memory?); run again") from None
