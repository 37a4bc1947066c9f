"""Locality-sensitive hashing: candidate pairs from MinHash band keys, and clusters from verified pairs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LARGE_BUCKET = 64
"""LSH buckets larger than this are verified against their first member and neighbours, not all pairs."""


class UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is always the member first in source order


def candidate_pairs(keys: np.ndarray, rows: np.ndarray | None = None) -> set[tuple[int, int]]:
    """Pairs of rows (i < j) that share an LSH bucket in some band; of ``keys[rows]`` if ``rows`` are given (and
    numbered as there), read a band at a time rather than copied whole."""
    pairs: set[tuple[int, int]] = set()
    for band in range(keys.shape[1]):
        column = keys[:, band] if rows is None else keys[rows, band]
        order = np.argsort(column)  # not stable, a few times faster: each bucket's rows are sorted below
        sorted_keys = column[order]
        starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
        ends = np.concatenate([starts[1:], [len(order)]])
        shared = ends - starts >= 2  # most buckets hold one row: skip them without a Python loop
        for start, end in zip(starts[shared].tolist(), ends[shared].tolist()):
            members = np.sort(order[start:end]).tolist()
            if len(members) <= LARGE_BUCKET:
                pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
            else:
                pairs.update((members[0], b) for b in members[1:])
                pairs.update(zip(members, members[1:]))
    return pairs


def first_occurrence(values: pa.Array) -> np.ndarray:
    """For each row, the first row holding the same value."""
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    first = np.full(len(encoded.dictionary), len(values), np.int64)
    np.minimum.at(first, codes, np.arange(len(values), dtype=np.int64))
    return first[codes]
