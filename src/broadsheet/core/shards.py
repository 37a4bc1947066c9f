"""Content-defined shards: where a shard ends is decided by the rows' own ids.

A shard ends after a row whose id hashes to 0 modulo the target size, so an
appended row can only change the last shard and an edited or removed row only
its own shard (and, if it was a boundary, the next one). A hard cap of
``MAX_FACTOR`` times the target bounds memory; the next id boundary resynchronises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MAX_FACTOR = 8
PARQUET_OPTIONS = {"compression": "zstd"}


def read_parquet(source, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's table, or its ``columns`` (a nested field as ``struct.field``, kept nested).

    Through ParquetFile: pq.read_table imports pyarrow.dataset and pandas, half a second in every process.
    """
    with pq.ParquetFile(source) as file:
        return file.read(columns=columns)


def points(ids: Iterable[str], person: bytes) -> np.ndarray:
    """The 8-byte blake2b of each id's UTF-8 under ``person``, as big-endian uint64s."""
    blank = hashlib.blake2b(digest_size=8, person=person)

    def point(doc_id: str) -> bytes:
        found = blank.copy()  # a copy of a hash begun: faster than a new one with its parameters
        found.update(doc_id.encode("utf-8"))
        return found.digest()

    return np.frombuffer(b"".join(map(point, ids)), dtype=">u8")


def ends_shard(doc_id: str, target_rows: int) -> bool:
    return int(points([doc_id], b"bs-shard")[0]) % target_rows == 0


def spans(ids: Iterable[str], target_rows: int) -> list[range]:
    """The content-defined shards of a sequence of ids, as ranges of positions: each ends after an id that
    ``ends_shard``, or after ``MAX_FACTOR * target_rows`` rows without one."""
    found = points(ids, b"bs-shard")
    cap, result, start = MAX_FACTOR * target_rows, [], 0
    for end in [*np.flatnonzero(found % np.uint64(target_rows) == 0).tolist(), len(found) - 1]:
        while end + 1 - start > cap:
            result.append(range(start, start + cap))
            start += cap
        if end >= start:
            result.append(range(start, end + 1))
            start = end + 1
    return result
