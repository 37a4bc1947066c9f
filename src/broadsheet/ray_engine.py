"""The Ray engine: the local engine's module-level functions, run as Ray tasks.

It joins the cluster that ``RAY_ADDRESS`` names (with Ray's own settings, such
as ``RAY_AUTH_MODE``, from the environment), or starts a local Ray with as many
CPUs as workers were asked for (and stops it afterwards). Results come
back in input order with a bounded number of tasks in flight, exactly as from
the local engine, so the outputs are byte for byte the same. The tasks read
their inputs by path: on a cluster the source folder must be on storage every
node sees.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from broadsheet.errors import BroadsheetError

IN_FLIGHT_PER_CPU = 4


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BroadsheetError("the ray engine needs Ray: pip install 'broadsheet[ray]'") from None
    return ray


def _check_reachable(address: str) -> None:
    """A one-line error at once for a RAY_ADDRESS nothing answers at (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise BroadsheetError(f"cannot join Ray at RAY_ADDRESS={address}: {getattr(e, 'strerror', None) or e}") from None


def _run(func: Callable, initializer: Callable | None, initargs: tuple, item):
    if initializer is not None:
        initializer(*initargs)  # the initializers only store settings: cheap enough to call per task
    return func(item)


def ordered_map(
    func: Callable, items: Iterable, workers: int, initializer: Callable | None = None, initargs: tuple = ()
) -> Iterator:
    """``map(func, items)`` as Ray tasks, results in input order."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        try:
            if os.environ.get("RAY_ADDRESS"):
                _check_reachable(os.environ["RAY_ADDRESS"])
                ray.init(**quiet)
            else:
                ray.init(address="local", num_cpus=workers, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = os.environ.get("RAY_ADDRESS") or "a local Ray"
            raise BroadsheetError(f"cannot start or join Ray at {where}: {str(e).splitlines()[0]}") from None
    try:
        remote = ray.remote(num_cpus=1)(_run)
        shared = ray.put(initargs)  # once into the object store, not once per task
        window = IN_FLIGHT_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", workers)))
        in_flight: deque = deque()
        for item in items:
            in_flight.append(remote.remote(func, initializer, shared, item))
            if len(in_flight) >= window:
                yield ray.get(in_flight.popleft())
        while in_flight:
            yield ray.get(in_flight.popleft())
    finally:
        if started:
            ray.shutdown()
