"""Content-defined shards: versions cost what changed, whoever applies the rule."""

from __future__ import annotations

import pytest

from broadsheet.core.shards import MAX_FACTOR, ends_shard, spans
from helpers import key

TARGET = 10
IDS = [key(n) for n in range(600)]


def shard_ids(ids: list[str], target: int = TARGET) -> list[tuple[str, ...]]:
    return [tuple(ids[i] for i in span) for span in spans(ids, target)]


def row_by_row(ids: list[str], target: int) -> list[int]:
    """The rule, one row at a time: a shard ends after a boundary id or after the cap."""
    lengths, rows = [], 0
    for doc_id in ids:
        rows += 1
        if ends_shard(doc_id, target) or rows == MAX_FACTOR * target:
            lengths.append(rows)
            rows = 0
    return lengths + ([rows] if rows else [])


def test_shards_end_after_boundary_ids():
    shards = shard_ids(IDS)
    assert sum(len(s) for s in shards) == len(IDS)
    assert all(ends_shard(s[-1], TARGET) or len(s) == MAX_FACTOR * TARGET for s in shards[:-1])
    assert 20 < len(shards) < 150


@pytest.mark.parametrize("target", [1, 2, 3, 10, 1000])
def test_the_cuts_are_the_rule_applied_row_by_row(target):
    ids = IDS + [i for i in (key(n) for n in range(1000, 9000)) if not ends_shard(i, 2)][:100]  # a long run
    assert [len(span) for span in spans(ids, target)] == row_by_row(ids, target)
    assert spans([], target) == []


def test_appending_rows_changes_only_the_last_shard():
    before = shard_ids(IDS)
    after = shard_ids(IDS + [key(n) for n in range(1000, 1050)])
    assert after[: len(before) - 1] == before[:-1]


def test_editing_or_removing_a_row_touches_at_most_two_shards():
    before = set(shard_ids(IDS))
    removed = set(shard_ids(IDS[:300] + IDS[301:]))
    assert len(removed - before) <= 2


def test_a_run_of_ids_without_a_boundary_is_cut_at_the_cap():
    no_boundary = [i for i in (key(n) for n in range(5000)) if not ends_shard(i, 2)][: 3 * MAX_FACTOR * 2]
    assert [len(r) for r in spans(no_boundary, 2)] == [MAX_FACTOR * 2] * 3


def test_the_points_that_cut_shards_never_change():
    """Where shards end must not move between versions of broadsheet: every shard file would be new."""
    from broadsheet.core.shards import points

    found = points(["a", "0123456789abcdef", "é", ""], b"bs-shard").tolist()
    assert found == [3635165471939353468, 3657121502994772322, 14961685334669842886, 2512630623892440068]
