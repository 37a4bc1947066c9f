"""LSH candidates: the pairs of rows sharing a bucket, of all rows or of some (without a copy of their keys)."""

from __future__ import annotations

import numpy as np

from broadsheet.dedup.lsh import candidate_pairs


def test_the_candidates_of_some_rows_are_those_of_their_keys_alone():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 40, size=(500, 6), dtype=np.uint64)  # few buckets: many pairs
    rows = np.flatnonzero(rng.random(500) < 0.6)
    found = candidate_pairs(keys, rows)
    assert found == candidate_pairs(keys[rows].copy())
    assert len(found) > 1000
    assert all(0 <= a < b < len(rows) for a, b in found)
