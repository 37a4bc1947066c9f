"""The local engine: worker processes on this machine, started by forkserver, results in input order."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial


@contextmanager
def pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[Callable]:
    """``workers`` processes, started now; yields ``ordered(func, items)``: ``map`` on them, in input order.

    A bounded number of items is in flight. With one worker everything runs in this process.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield map
        return
    # Not multiprocessing.Pool: its worker-handling thread wakes whenever a result is readable and
    # spins while the result thread reads it, taking CPU from the workers.
    context = multiprocessing.get_context("forkserver")
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs)
    try:
        for _ in range(workers):  # start every worker now (they start on demand): they import while the caller works
            executor.submit(int)
        yield partial(_ordered, executor, 4 * workers)
    finally:
        executor.shutdown(cancel_futures=True)  # on an error, tasks not yet started are dropped, not run


def _ordered(executor: ProcessPoolExecutor, window: int, func: Callable, items: Iterable) -> Iterator:
    in_flight: deque = deque()
    for item in items:
        in_flight.append(executor.submit(func, item))
        if len(in_flight) >= window:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()
