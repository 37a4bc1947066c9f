"""Content-defined shards and stable splits: versions cost what changed, documents never change split."""

from __future__ import annotations

import pyarrow as pa

from broadsheet import schema
from broadsheet.params import PublishParams
from broadsheet.shards import MAX_FACTOR, ShardWriter, ends_shard
from broadsheet.split import split_of
from conftest import key

TARGET = 10


def shard_ids(ids: list[str], batch_rows: int = 7, target: int = TARGET) -> list[tuple[str, ...]]:
    """The ids of each shard a ShardWriter makes of ``ids`` fed in batches of ``batch_rows``."""
    doc = schema.document()
    written = []
    writer = ShardWriter(doc, target, lambda table, i: written.append(tuple(table.column("id").to_pylist())) or i)
    rows = [
        {"id": i, "title": "t", "text": "x", "related": [], "n_chars": 1, "n_words": 1, "text_sha256": "h",
         "source": {"path": i, "raw_bytes": 1, "raw_sha256": "r", "encoding": "utf-8"}, "flags": []}
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


def test_split_is_a_function_of_the_id_alone():
    ratios = PublishParams().splits
    assert all(split_of(i, ratios) == split_of(i, dict(ratios)) for i in IDS)
    counts = {name: sum(split_of(key(n), ratios) == name for n in range(10_000)) for name in ratios}
    assert 7700 < counts["train"] < 8300 and 800 < counts["validation"] < 1200 and 800 < counts["test"] < 1200


def test_a_zero_ratio_split_gets_nothing():
    ratios = {"train": 1.0, "validation": 0.0, "test": 0.0}
    assert {split_of(i, ratios) for i in IDS} == {"train"}
