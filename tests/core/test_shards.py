"""Content-defined shards: versions cost what changed, whoever applies the rule."""

from __future__ import annotations

import pyarrow as pa
import pytest

from broadsheet.core import schema
from broadsheet.core.shards import MAX_FACTOR, ShardWriter, ends_shard, spans
from helpers import key

TARGET = 10


def shard_ids(ids: list[str], batch_rows: int = 7, target: int = TARGET) -> list[tuple[str, ...]]:
    """The ids of each shard a ShardWriter makes of ``ids`` fed in batches of ``batch_rows``."""
    doc = schema.document()
    written = []
    writer = ShardWriter(doc, target, lambda table, i: written.append(tuple(table.column("id").to_pylist())) or i)
    rows = [
        {
            "id": i,
            "title": "t",
            "text": "x",
            "related": [],
            "n_chars": 1,
            "n_words": 1,
            "text_sha256": "h",
            "source": {"path": i, "raw_bytes": 1, "raw_sha256": "r", "encoding": "utf-8"},
            "flags": [],
        }
        for i in ids
    ]
    for start in range(0, len(rows), batch_rows):
        writer.add(pa.RecordBatch.from_pylist(rows[start : start + batch_rows], schema=doc.arrow))
    writer.close()
    return written


IDS = [key(n) for n in range(600)]


def test_shards_end_after_boundary_ids_whatever_the_batch_size():
    shards = shard_ids(IDS)
    assert shard_ids(IDS, batch_rows=1) == shards == shard_ids(IDS, batch_rows=1000)
    assert sum(len(s) for s in shards) == len(IDS)
    assert all(ends_shard(s[-1], TARGET) or len(s) == MAX_FACTOR * TARGET for s in shards[:-1])
    assert 20 < len(shards) < 150


def test_appending_rows_changes_only_the_last_shard():
    before = shard_ids(IDS)
    after = shard_ids(IDS + [key(n) for n in range(1000, 1050)])
    assert after[: len(before) - 1] == before[:-1]


def test_editing_or_removing_a_row_touches_at_most_two_shards():
    before = set(shard_ids(IDS))
    removed = set(shard_ids(IDS[:300] + IDS[301:]))
    assert len(removed - before) <= 2


@pytest.mark.parametrize("batch_rows", [1, 7, 1000])
def test_the_normalize_and_publish_writers_cut_the_same_shards(batch_rows):
    lengths = [len(r) for r in spans(IDS, TARGET)]
    assert [len(s) for s in shard_ids(IDS, batch_rows)] == lengths
    assert sum(lengths) == len(IDS) and max(lengths) <= MAX_FACTOR * TARGET


def test_a_run_of_ids_without_a_boundary_is_cut_at_the_cap():
    no_boundary = [i for i in (key(n) for n in range(5000)) if not ends_shard(i, 2)][: 3 * MAX_FACTOR * 2]
    assert [len(r) for r in spans(no_boundary, 2)] == [MAX_FACTOR * 2] * 3
    assert [len(s) for s in shard_ids(no_boundary, 5, target=2)] == [MAX_FACTOR * 2] * 3
