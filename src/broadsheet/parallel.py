"""Worker processes that keep order: the same outputs whatever the engine and the worker count.

Two engines run the same module-level functions: ``local`` (processes on this
machine, started by forkserver) and ``ray`` (Ray Data read tasks, see ``ray_engine``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial

from broadsheet.errors import BroadsheetError

ENGINES = ("local", "ray")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextmanager
def pool(workers: int, initializer: Callable | None = None, initargs: tuple = (), engine: str = "local") -> Iterator[Callable]:
    """Workers of ``engine``, started now; yields ``ordered(func, items)``: ``map`` on them, results in input order.

    A bounded number of items is in flight. With one local worker everything
    runs in this process. ``func`` and ``initializer`` must be importable
    module-level functions (workers start by forkserver, or are Ray's).
    """
    if engine not in ENGINES:
        raise BroadsheetError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    if engine == "ray":
        from broadsheet import ray_engine

        with ray_engine.pool(workers, initializer, initargs) as ordered:
            yield ordered
        return
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield map
        return
    # Not multiprocessing.Pool: its worker-handling thread wakes whenever a result is readable and
    # spins while the result thread reads it (0.8 s of CPU per 100,000 documents, taken from the workers).
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


def ordered_map(
    func: Callable,
    items: Iterable,
    workers: int,
    initializer: Callable | None = None,
    initargs: tuple = (),
    engine: str = "local",
) -> Iterator:
    """``map(func, items)`` on a ``pool`` of its own."""
    with pool(workers, initializer, initargs, engine) as ordered:
        yield from ordered(func, items)
