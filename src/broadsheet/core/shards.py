"""Content-defined shards: where a shard ends is decided by the rows' own ids.

A shard ends after a row whose id hashes to 0 modulo the target size, so an
appended row can only change the last shard and an edited or removed row only
its own shard (and, if it was a boundary, the next one). A hard cap of
``MAX_FACTOR`` times the target bounds memory; the next id boundary resynchronises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet.core.schema import Schema

MAX_FACTOR = 8
PARQUET_OPTIONS = {"compression": "zstd"}


def read_parquet(source, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file's table, or its ``columns`` (a nested field as ``struct.field``, kept nested).

    Through ParquetFile: pq.read_table imports pyarrow.dataset and pandas, half a second in every process.
    """
    with pq.ParquetFile(source) as file:
        return file.read(columns=columns)


def ends_shard(doc_id: str, target_rows: int) -> bool:
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, person=b"bs-shard").digest()
    return int.from_bytes(digest, "big") % target_rows == 0


class Cutter:
    """The boundary rule applied row by row: ``ends(id)`` says whether the shard ends after this row."""

    def __init__(self, target_rows: int):
        self.target_rows = target_rows
        self.rows = 0
        """Rows of the current shard so far."""

    def ends(self, doc_id: str) -> bool:
        self.rows += 1
        if ends_shard(doc_id, self.target_rows) or self.rows >= MAX_FACTOR * self.target_rows:
            self.rows = 0
            return True
        return False


def spans(ids: Iterable[str], target_rows: int) -> list[range]:
    """The content-defined shards of a sequence of ids, as ranges of positions."""
    cutter, result, start, count = Cutter(target_rows), [], 0, 0
    for count, doc_id in enumerate(ids, 1):
        if cutter.ends(doc_id):
            result.append(range(start, count))
            start = count
    if start < count:
        result.append(range(start, count))
    return result


class ShardWriter:
    """Buffer rows in order and hand each finished shard, as one Arrow table, to ``write(table, index)``."""

    def __init__(self, schema: Schema, target_rows: int, write: Callable[[pa.Table, int], Path]):
        self.schema = schema
        self.target_rows = target_rows
        self.write = write
        self.paths: list[Path] = []
        self.lengths: list[int] = []
        self._pending: list[pa.RecordBatch] = []
        self._cutter = Cutter(target_rows)

    def add(self, batch: pa.RecordBatch) -> None:
        self.schema.check(batch)
        start = 0
        for i, doc_id in enumerate(batch.column("id").to_pylist()):
            if self._cutter.ends(doc_id):
                self._pending.append(batch.slice(start, i + 1 - start))
                self._flush()
                start = i + 1
        if start < batch.num_rows:
            self._pending.append(batch.slice(start))

    def close(self) -> list[Path]:
        if self._pending:
            self._flush()
        return self.paths

    def _flush(self) -> None:
        table = pa.Table.from_batches(self._pending, self.schema.arrow).combine_chunks()
        self.paths.append(self.write(table, len(self.paths)))
        self.lengths.append(table.num_rows)
        self._pending = []


def parquet_writer(folder: Path, metadata: dict[str, str] | None = None) -> Callable[[pa.Table, int], Path]:
    """A ``write`` for ShardWriter: shard i becomes ``folder/part-0000i.parquet`` (with ``metadata`` added)."""

    def write(table: pa.Table, index: int) -> Path:
        path = folder / f"part-{index:05d}.parquet"
        if metadata:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        pq.write_table(table, path, **PARQUET_OPTIONS)
        return path

    return write
