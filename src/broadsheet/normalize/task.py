"""One task of the normalize stage: the sources of one content-defined shard -> the shard's Parquet bytes.

It runs in a worker (a local process or a Ray task): reads each source,
normalises and filters it, and encodes the records. Unless the shard's key is
one the previous output already holds: then only the key goes back. In a shard
it does not hold, a source whose record it holds takes that row (``reuse.Earlier``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet.core import schema
from broadsheet.core.columns import value_counts
from broadsheet.core.params import FilterParams, NormalizeParams
from broadsheet.core.shards import PARQUET_OPTIONS
from broadsheet.core.values import Filtered, Rejected, Source
from broadsheet.inputs import walk
from broadsheet.inputs.read import read
from broadsheet.normalize import reuse
from broadsheet.normalize.folder import COUNTED
from broadsheet.text import quality
from broadsheet.text.document import normalize_document, normalize_record

ROW_GROUP_ROWS = 1000


@dataclass(frozen=True)
class ShardResult:
    """What one shard's sources became: the shard as Parquet bytes, what was turned away, and counts."""

    key: str
    """reuse.shard_key of the shard's sources."""
    parquet: bytes
    """The shard's Parquet file; empty when no source became a record (or when ``reused``)."""
    sha256: str | None
    """Of ``parquet``; None when it is empty."""
    rows: int
    rejected: list[Rejected]
    filtered: list[Filtered]
    counts: dict[str, Counter]
    """Value counts of the records' COUNTED columns, for metrics.json."""
    span: list | None = None
    """reuse.span of the shard's sources (None when ``reused``: the previous index has it)."""
    reused: bool = False
    """The previous output holds this shard (same key): take it from there."""
    contents: list[str] = field(default_factory=list)
    """What the key took of each source (reuse.shard_key): the next run's tar listings keep the sha256s."""

    @property
    def files(self) -> int:
        return self.rows + len(self.rejected) + len(self.filtered)

    def index_row(self, file: str | None) -> dict:
        """This shard's row of the output's index (folder.INDEX), ``file`` being where its Parquet file went."""
        return {
            "key": self.key,
            "span": self.span,
            "file": file,
            "sha256": self.sha256,
            "rows": self.rows,
            "rejected": [r.row() for r in self.rejected],
            "filtered": [f.row() for f in self.filtered],
            "counts": self.counts,
        }

    @classmethod
    def from_index(cls, row: dict) -> ShardResult:
        """A shard of the previous output, as its index row describes it (its file is put in place apart)."""
        return cls(
            row["key"],
            b"",
            row["sha256"],
            row["rows"],
            [Rejected(**r) for r in row["rejected"]],
            [Filtered(**f) for f in row["filtered"]],
            {k: Counter(v) for k, v in row["counts"].items()},
            row["span"],
        )


def normalize_shard(
    shard: list[Source],
    params: NormalizeParams,
    filters: FilterParams,
    fingerprint: str = "",
    known: frozenset = frozenset(),
    earlier: reuse.Earlier | None = None,
) -> ShardResult:
    """Read, normalise and filter the sources of one shard, and encode the shard.

    Unless the shard's key is ``known`` (the previous output has it): then only the key is sent back.
    Otherwise a source whose record ``earlier`` (the previous output's rows) holds takes that row.
    The records become Arrow and a Parquet row group ROW_GROUP_ROWS sources at a time, so a
    worker holds that many documents as Python objects, whatever the shard's length; with
    nothing ``known`` (a first or fresh run) it holds no more raw files than that either, and
    otherwise at most HOLD_BYTES of them.
    """
    held: list | None = None
    contents: list[str] = []
    kept = reuse.Kept()
    if known:  # whether to normalise at all depends on the key: read and hash what the listings do not know
        held, contents = _read_and_hash(shard, params)
        if (key := reuse.shard_key(fingerprint, shard, contents)) in known:
            return ShardResult(key, b"", None, 0, [], [], {}, reused=True, contents=contents)
        if earlier is not None:
            kept = earlier.rows(shard, contents)
    doc = schema.document()
    normalized = normalize_document if params.format == "article_txt" else normalize_record
    rejected, filtered, rows = [], [], 0
    counts = {column: Counter() for column in COUNTED}
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, doc.arrow, **PARQUET_OPTIONS) as writer:
        for start in range(0, len(shard), ROW_GROUP_ROWS):
            records, order = [], []
            for i in range(start, min(start + ROW_GROUP_ROWS, len(shard))):
                if i in kept.at:
                    held[i] = None
                    order.append(-1 - kept.at[i])
                    continue
                if held is None:  # each file read as its turn comes
                    raw = read(shard[i], params.max_file_bytes, params.fields)
                    contents.append(_content(raw))
                elif held[i] is _AGAIN:  # not held: read again, and the key takes what was read now
                    raw, held[i] = read(shard[i], params.max_file_bytes, params.fields), None
                    contents[i] = _content(raw)
                else:
                    raw, held[i] = held[i], None  # let the bytes go as their records come
                result = raw if isinstance(raw, Rejected) else normalized(raw, shard[i], params, contents[i])
                if isinstance(result, Rejected):
                    rejected.append(result)
                elif (removed := quality.check(result, filters)) is not None:
                    filtered.append(removed)
                else:
                    order.append(len(records))
                    records.append(result)
            if order:
                batch = _batch(records, order, kept.table, doc)
                doc.check(batch)
                _count(batch, counts)
                writer.write_batch(batch)
                rows += batch.num_rows
    parquet = sink.getvalue().to_pybytes() if rows else b""
    sha256 = hashlib.sha256(parquet).hexdigest() if rows else None
    key = reuse.shard_key(fingerprint, shard, contents)  # all contents are known only now, on a first run
    return ShardResult(key, parquet, sha256, rows, rejected, filtered, counts, reuse.span(shard), contents=contents)


HOLD_BYTES = 64 << 20
"""Of a shard's raw bytes, what a worker holds while it finds the shard's key; the rest it reads again."""
_AGAIN = object()


def _read_and_hash(shard: list[Source], params: NormalizeParams) -> tuple[list, list[str]]:
    """Each source's bytes (or Rejected), and its content for the key; _AGAIN in place of the bytes of a
    source whose content is known (a member of an unchanged tar shard: it is read only if it is normalised)
    and past HOLD_BYTES."""
    held, contents, size = [], [], 0
    for source in shard:
        if source.content is not None:
            contents.append(source.content)
            held.append(_AGAIN)
            continue
        raw = read(source, params.max_file_bytes, params.fields)
        contents.append(_content(raw))
        if isinstance(raw, bytes) and size + len(raw) > HOLD_BYTES:
            raw = _AGAIN
        elif isinstance(raw, bytes):
            size += len(raw)
        held.append(raw)
    return held, contents


def _batch(records: list[dict], order: list[int], kept: pa.Table | None, doc: schema.Schema) -> pa.RecordBatch:
    """One row group's rows in source order: ``order`` gives, row by row, the index of a record normalised
    now in ``records``, or -1 - the index of a row of ``kept`` (the previous output's rows).

    The rows end in one contiguous batch, whatever their origin: the Parquet bytes are then those of the
    same rows all normalised now.
    """
    batch = pa.RecordBatch.from_pylist(records, schema=doc.arrow)
    previous = [-1 - k for k in order if k < 0]
    if not previous:
        return batch
    both = pa.concat_tables([pa.Table.from_batches([batch]), kept.take(previous)])
    taken = iter(range(len(records), len(records) + len(previous)))
    return both.take([k if k >= 0 else next(taken) for k in order]).combine_chunks().to_batches()[0]


def _content(raw: bytes | Rejected) -> str:
    """What the shard key takes of a source: the sha256 of its bytes, or why they were not had."""
    return hashlib.sha256(raw).hexdigest() if isinstance(raw, bytes) else f"{raw.reason}: {raw.detail}"


def _count(batch: pa.RecordBatch, counts: dict[str, Counter]) -> None:
    """Add the value counts of ``batch``'s flags, encodings and languages to ``counts``."""
    counts["flags"].update(value_counts(pc.list_flatten(batch.column("flags"))))
    counts["encoding"].update(value_counts(pc.struct_field(batch.column("source"), "encoding")))
    counts["lang"].update(value_counts(pc.fill_null(batch.column("lang"), "unknown")))


_worker_args: tuple | None = None


def init_worker(*args) -> None:
    """Keep the settings every task of this worker uses (a worker's initializer)."""
    global _worker_args
    _worker_args = args


def in_worker(shard: walk.Rows) -> ShardResult:
    return normalize_shard(shard.sources(), *_worker_args)
