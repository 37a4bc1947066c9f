"""Where the work runs: the same module-level functions on local worker processes or on Ray Data.

``pool`` starts the workers of the engine ``params.yaml``'s ``compute`` names (or
the command line) and yields ``ordered(func, items)``: ``map`` on them, results
in input order, so the outputs are the same whatever the engine and the worker
count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from broadsheet.core.errors import BroadsheetError
from broadsheet.core.params import ENGINES, ComputeParams


def default_workers() -> int:
    """Every core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def workers(compute: ComputeParams) -> int:
    """The worker count ``compute`` asks for; 0 means every core."""
    return compute.workers or default_workers()


@contextmanager
def pool(
    compute: ComputeParams,
    initializer: Callable | None = None,
    initargs: tuple = (),
    *,
    eager: bool = True,
    threads: bool = False,
) -> Iterator[Callable]:
    """Workers of ``compute.engine``, started now (``eager``: they import while the caller works), else when
    ``ordered`` is first called (a run that may have nothing to send them does not wait for them to start);
    yields ``ordered(func, items)``.

    ``threads``: ``func`` spends its time where Python lets other threads run (compiled loops that release the
    GIL, Arrow), so the local engine runs it on threads of this process, which share its memory and imports.

    ``func`` and ``initializer`` must be importable module-level functions (local
    workers start by forkserver; Ray's are other processes, maybe other machines).
    """
    if compute.engine not in ENGINES:
        raise BroadsheetError(f"unknown engine {compute.engine!r} (known: {', '.join(ENGINES)})")
    if compute.engine == "ray":
        from broadsheet.engines import ray_data as engine
    else:
        from broadsheet.engines import local as engine
    with ExitStack() as stack:
        started: list[Callable] = []

        def ordered(func: Callable, items) -> Iterator:
            if not started:
                workers_of = engine.pool(workers(compute), initializer, initargs, threads=threads)
                started.append(stack.enter_context(workers_of))
            return started[0](func, items)

        if eager:
            ordered(int, [])
        yield ordered


def in_process(compute: ComputeParams) -> bool:
    """Whether ``pool(compute, threads=True)`` runs its tasks on threads of this process (they may share objects)."""
    return compute.engine != "ray"


def ordered_map(func: Callable, items, compute: ComputeParams) -> Iterator:
    """``map(func, items)`` on a ``pool`` of its own."""
    with pool(compute) as ordered:
        yield from ordered(func, items)
