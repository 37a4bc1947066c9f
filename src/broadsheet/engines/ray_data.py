"""The Ray engine: the local engine's module-level functions, run by Ray Data.

Each item (for normalize, one content-defined shard's sources) becomes one read
task of a Ray Data datasource: the task reads the item's files and runs the
same function the local engine runs on it, and its block is that result,
pickled. Ray Data schedules the read tasks on the cluster, holds back when
the driver falls behind, and hands the blocks back in input order
(``preserve_order``), so the outputs are byte for byte the local engine's.
Items are taken a window at a time (one dataset per window), so the driver
never holds every task of a large corpus at once.

It joins the cluster that ``RAY_ADDRESS`` names (with Ray's own settings, such
as ``RAY_AUTH_MODE``, from the environment), or starts a local Ray with as many
CPUs as workers were asked for (and stops it afterwards). The tasks read their
inputs by path: on a cluster the raw folder (and, for dedup, publish and the rows
normalize reuses, the normalized one) must be on storage every node sees, and so
must the folder publish writes into (its tasks write the shards).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

import pyarrow as pa

from broadsheet.core.errors import BroadsheetError, reason

TASKS_PER_CPU = 32
"""Items in one window (one Ray Data dataset) per CPU of the cluster: the cluster idles only while a window drains."""


def _import_ray():
    try:
        import ray
        import ray.data
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
        raise BroadsheetError(f"cannot join Ray at RAY_ADDRESS={address}: {reason(e)}") from None


def _run(func: Callable, initializer: Callable | None, initargs, item) -> pa.Table:
    """One read task's block: ``func(item)`` (or the exception it raised, re-raised by the driver), pickled.

    ``initargs`` and ``item`` are object refs: a read task itself stays small (Ray Data warns past 1 MiB).
    """
    import ray

    if initializer is not None:
        initializer(*ray.get(initargs))  # the initializers only store settings: cheap enough to call per task
    try:
        result = (True, func(ray.get(item)))
    except Exception as e:  # noqa: BLE001 - the driver raises it, as the local engine's pool would
        result = (False, e)
    return pa.table({"result": pa.array([pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)], pa.large_binary())})


def _datasource(func: Callable, initializer: Callable | None, initargs, items: list):
    """A Ray Data datasource with one read task per item."""
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class Items(Datasource):
        def estimate_inmemory_data_size(self):
            return None

        def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
            metadata = BlockMetadata(num_rows=1, size_bytes=None, input_files=None, exec_stats=None)
            return [ReadTask(lambda item=item: [_run(func, initializer, initargs, item)], metadata) for item in items]

    return Items()


@contextmanager
def _session(workers: int):
    """Ray joined or started, with Ray Data set to keep order and to stay quiet."""
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
    logger = logging.getLogger("ray.data")
    level = logger.level
    logger.setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    saved = (
        context.execution_options.preserve_order,
        context.enable_progress_bars,
        context.print_on_execution_start,
        context.op_resource_reservation_enabled,
    )
    context.execution_options.preserve_order = True  # blocks come back in read-task order
    context.enable_progress_bars = context.print_on_execution_start = False
    # Reservation keeps part of the CPUs for operators after the read; there are none (on 2 CPUs it would run
    # one task at a time).
    context.op_resource_reservation_enabled = False
    try:
        yield ray
    finally:
        (
            context.execution_options.preserve_order,
            context.enable_progress_bars,
            context.print_on_execution_start,
            context.op_resource_reservation_enabled,
        ) = saved
        logger.setLevel(level)
        if started:
            ray.shutdown()


@contextmanager
def pool(
    workers: int, initializer: Callable | None = None, initargs: tuple = (), *, threads: bool = False
) -> Iterator[Callable]:
    """Ray joined or started; yields ``ordered(func, items)``: ``map`` as Ray Data read tasks, in input order
    (``threads`` changes nothing: Ray's workers are processes, maybe on other machines)."""
    with _session(workers) as ray:
        shared = ray.put(initargs)  # once into the object store, not once per task
        window = TASKS_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", workers)))

        def ordered(func: Callable, items: Iterable) -> Iterator:
            items = iter(items)
            while refs := [ray.put(item) for item in islice(items, window)]:
                dataset = ray.data.read_datasource(
                    _datasource(func, initializer, shared, refs), override_num_blocks=len(refs)
                )
                for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                    for data in block.column("result").to_pylist():
                        ok, result = pickle.loads(data)
                        if not ok:
                            raise result
                        yield result

        yield ordered
