"""Where a shard task's rows come from: the normalized shards, each read once for every task of this process.

A validation or test shard gathers its rows from many normalized shards, which the
train shards beside it read too: read by each task, every normalized shard would be
read about three times. On threads of one process the tasks share a ``Shared`` instead,
which keeps a shard from its first task to its last (the plan says how many use it),
within a budget of memory: past it, the shard read longest ago is let go, and read
again if a task still needs it. What a task gets is the same either way.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable

import pyarrow as pa

from broadsheet.normalize import folder as normalized_folder

BUDGET_BYTES = 128 << 20
"""The most the shards kept for later tasks may hold; a plan whose splits interleave widely (a split of 0.1%
gathers from hundreds of shards) re-reads some instead of holding them all."""


def rows(path: str, positions: pa.Array) -> pa.RecordBatch:
    """Some rows of a normalized shard, read for this task alone (a task on another process or machine)."""
    return normalized_folder.records(path).take(positions)


class _Entry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batch: pa.RecordBatch | None = None


class Shared:
    """Rows of normalized shards for the tasks on this process's threads: ``rows(path, positions)`` as above,
    each shard read once while it is ``used`` by tasks still to come."""

    def __init__(self, budget: int | None = None) -> None:
        self._lock = threading.Lock()
        self._uses: Counter[str] = Counter()
        self._kept: OrderedDict[str, _Entry] = OrderedDict()
        self._budget = BUDGET_BYTES if budget is None else budget

    def use(self, paths: Iterable[str]) -> None:
        """Tasks still to come will read these shards (a path once per task)."""
        with self._lock:
            self._uses.update(paths)

    def rows(self, path: str, positions: pa.Array) -> pa.RecordBatch:
        with self._lock:
            entry = self._kept.setdefault(path, _Entry())
        with entry.lock:  # a second task for the shard waits for the first's read rather than reading it too
            if entry.batch is None:
                entry.batch = normalized_folder.records(path)
                self._fit(path)
            batch = entry.batch
        try:
            return batch.take(positions)
        finally:
            with self._lock:
                self._uses[path] -= 1
                if self._uses[path] <= 0:
                    del self._uses[path]
                    if self._kept.get(path) is entry:
                        del self._kept[path]

    def held(self) -> int:
        """The bytes of the shards kept for tasks to come."""
        with self._lock:
            return sum(e.batch.nbytes for e in self._kept.values() if e.batch is not None)  # not those being read

    def _fit(self, loaded: str) -> None:
        """Let the shards read longest ago go while those kept hold more than the budget (never ``loaded``)."""
        held = self.held()
        with self._lock:
            for path in [p for p, e in self._kept.items() if p != loaded and e.batch is not None]:
                if held <= self._budget:
                    break
                held -= self._kept.pop(path).batch.nbytes
