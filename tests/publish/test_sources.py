"""Where publish's tasks get their rows: on threads of one process, each normalized shard is read once for all
the tasks that use it, kept until the last of them (or while it fits the budget), and what a task gets is what a
read of its own gives."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet.core.errors import BroadsheetError
from broadsheet.publish import sources
from helpers import normalized_corpus


@pytest.fixture
def shards(tmp_path):
    found = [str(p) for p in sorted((normalized_corpus(tmp_path, 120) / "data").glob("*.parquet"))]
    assert len(found) >= 3
    return found


def rows(path: str) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def positions(*rows: int) -> pa.Array:
    return pa.array(rows, pa.int32())


def test_a_shard_is_read_once_for_the_tasks_that_use_it_then_let_go(shards):
    shared = sources.Shared()
    shared.use([shards[0], shards[0], shards[0]])
    expected = [sources.rows(shards[0], positions(0, 2)), sources.rows(shards[0], positions(1))]
    assert shared.rows(shards[0], positions(0, 2)).equals(expected[0])
    open(shards[0], "wb").close()  # emptied: the rows can only come from the read before
    assert shared.rows(shards[0], positions(1)).equals(expected[1])
    assert shared.held() > 0
    shared.rows(shards[0], positions(0))  # its last use
    assert shared.held() == 0
    with pytest.raises(BroadsheetError):
        shared.rows(shards[0], positions(0))  # let go after its last use: read again, and it is empty now


def test_past_the_budget_the_shard_read_longest_ago_is_read_again(shards):
    shared = sources.Shared(budget=0)
    shared.use([shards[0], shards[0], shards[1], shards[1]])
    expected = sources.rows(shards[0], positions(1))
    shared.rows(shards[0], positions(0))
    shared.rows(shards[1], positions(0))  # over a budget of nothing: shard 0 is let go
    data = open(shards[0], "rb").read()
    open(shards[0], "wb").close()
    with pytest.raises(BroadsheetError):
        shared.rows(shards[0], positions(1))
    open(shards[0], "wb").write(data)
    assert shared.rows(shards[0], positions(1)).equals(expected)
    shared.rows(shards[1], positions(1))  # shard 1 was kept: the one just read is never let go


def test_tasks_on_threads_at_once_get_what_their_own_reads_give(shards):
    shared = sources.Shared(budget=1)
    wanted = [(path, positions(*range(i % 7, 20, 3))) for i in range(64) for path in shards if rows(path) >= 20]
    shared.use(path for path, _ in wanted)
    expected = [sources.rows(path, rows) for path, rows in wanted]
    found = [None] * len(wanted)
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        for i in range(k, len(wanted), 4):
            found[i] = shared.rows(*wanted[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(f.equals(e) for f, e in zip(found, expected))
    assert shared.held() == 0
