"""The normalize stage: source folders -> Parquet shards + rejects table + metrics.

The edges of the pure ``normalize_document``: reading files, worker
processes, progress, and writing shards into a folder that replaces the old
one only when complete.
"""

from __future__ import annotations

import ctypes
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet import quality, reuse, schema, sources
from broadsheet.document import normalize_document
from broadsheet.errors import BroadsheetError
from broadsheet.output import atomic_dir, check_apart, write_json
from broadsheet.parallel import default_workers, pool
from broadsheet.params import FilterParams, NormalizeParams
from broadsheet.records import Filtered, Rejected, Source
from broadsheet.shards import PARQUET_OPTIONS, spans


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
    """Value counts of the records' flags, encodings and languages, for metrics.json."""
    reused: bool = False
    """The previous output holds this shard (same key): take it from there."""

    @property
    def files(self) -> int:
        return self.rows + len(self.rejected) + len(self.filtered)

    def index_row(self, file: str | None) -> dict:
        """This shard's row of the output's index (reuse.INDEX), ``file`` being where its Parquet file went."""
        return {
            "key": self.key,
            "file": file,
            "sha256": self.sha256,
            "rows": self.rows,
            "rejected": [r.row() for r in self.rejected],
            "filtered": [f.row() for f in self.filtered],
            "counts": self.counts,
        }

    @classmethod
    def from_index(cls, row: dict, parquet: bytes) -> ShardResult:
        return cls(
            row["key"], parquet, row["sha256"], row["rows"], [Rejected(**r) for r in row["rejected"]],
            [Filtered(**f) for f in row["filtered"]], {k: Counter(v) for k, v in row["counts"].items()},
        )


def normalize_shard(
    shard: list[Source], params: NormalizeParams, filters: FilterParams, fingerprint: str = "", known: frozenset = frozenset()
) -> ShardResult:
    """Read, normalise and filter the sources of one shard, and encode the shard: all of it in the worker.

    Unless the shard's key is ``known`` (the previous output has it): then only the key is sent back.
    The records become Arrow and a Parquet row group ROW_GROUP_ROWS sources at a time, so a
    worker holds that many documents as Python objects, whatever the shard's length; with
    nothing ``known`` (a first or fresh run) it holds no more raw files than that either.
    """
    held: list | None = None
    contents: list[str] = []
    if known:  # whether to normalise at all depends on the key: read and hash the whole shard first
        held = [sources.read(source, params.max_file_bytes) for source in shard]
        contents = [_content(raw) for raw in held]
        if (key := reuse.shard_key(fingerprint, shard, contents)) in known:
            return ShardResult(key, b"", None, 0, [], [], {}, reused=True)
    doc = schema.document()
    rejected, filtered, rows = [], [], 0
    counts = {"flags": Counter(), "encoding": Counter(), "lang": Counter()}
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, doc.arrow, **PARQUET_OPTIONS) as writer:
        for start in range(0, len(shard), ROW_GROUP_ROWS):
            records = []
            for i in range(start, min(start + ROW_GROUP_ROWS, len(shard))):
                if held is None:  # each file read as its turn comes
                    raw = sources.read(shard[i], params.max_file_bytes)
                    contents.append(_content(raw))
                else:
                    raw, held[i] = held[i], None  # let the bytes go as their records come
                result = raw if isinstance(raw, Rejected) else normalize_document(raw, shard[i], params, contents[i])
                if isinstance(result, Rejected):
                    rejected.append(result)
                elif (removed := quality.check(result, filters)) is not None:
                    filtered.append(removed)
                else:
                    records.append(result)
            if records:
                batch = pa.RecordBatch.from_pylist(records, schema=doc.arrow)
                doc.check(batch)
                _count(batch, counts)
                writer.write_batch(batch)
                rows += len(records)
    parquet = sink.getvalue().to_pybytes() if rows else b""
    sha256 = hashlib.sha256(parquet).hexdigest() if rows else None
    key = reuse.shard_key(fingerprint, shard, contents)  # all contents are known only now, on a first run
    return ShardResult(key, parquet, sha256, rows, rejected, filtered, counts)


def _content(raw: bytes | Rejected) -> str:
    """What the shard key takes of a source: the sha256 of its bytes, or why they were not had."""
    return hashlib.sha256(raw).hexdigest() if isinstance(raw, bytes) else f"{raw.reason}: {raw.detail}"


def _count(batch: pa.RecordBatch, counts: dict[str, Counter]) -> None:
    """Add the value counts of ``batch``'s flags, encodings and languages to ``counts``."""
    counts["flags"].update(_value_counts(pc.list_flatten(batch.column("flags"))))
    counts["encoding"].update(_value_counts(pc.struct_field(batch.column("source"), "encoding")))
    counts["lang"].update(_value_counts(pc.fill_null(batch.column("lang"), "unknown")))


_worker_args: tuple | None = None


def _init_worker(*args) -> None:
    global _worker_args
    _worker_args = args


def _normalize_in_worker(shard: list[Source]) -> ShardResult:
    return normalize_shard(shard, *_worker_args)


def release_memory() -> None:
    """Give memory freed by Arrow and by malloc back to the system.

    Arrow's allocator and glibc keep freed pages for reuse: after the plan is
    sorted that is ~60 MB per million sources that the main process will not
    use again. (Not after every shard in a worker: the next shard would fault
    the same pages back in, ~10% slower, for the same peak.)
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


try:
    _LIBC = ctypes.CDLL("libc.so.6")  # glibc: malloc_trim; elsewhere there is nothing to trim this way
except OSError:
    _LIBC = None


def write_table(path: Path, rows: Iterable, table_schema: schema.Schema) -> None:
    """Rows (Rejected or Filtered values) as a Parquet table sorted by path, checked against ``table_schema``."""
    ordered = sorted((r.row() for r in rows), key=lambda r: (r["path"], r["reason"]))
    table = pa.Table.from_pylist(ordered, schema=table_schema.arrow)
    table_schema.check(table)
    pq.write_table(table, path, **PARQUET_OPTIONS)


class Tally:
    """Counts for metrics.json, accumulated chunk by chunk."""

    def __init__(self):
        self.documents = 0
        self.rejected: list[Rejected] = []
        self.filtered: list[Filtered] = []
        self.by_column = {"flags": Counter(), "encoding": Counter(), "lang": Counter()}

    def add(self, shard: ShardResult) -> None:
        self.documents += shard.rows
        self.rejected.extend(shard.rejected)
        self.filtered.extend(shard.filtered)
        for column, counts in shard.counts.items():
            self.by_column[column].update(counts)

    def metrics(self, shards: int, input_files: int) -> dict:
        skipped = sum(1 for r in self.rejected if r.reason == sources.NOT_A_DOCUMENT)
        rejected = Counter(r.reason for r in self.rejected if r.reason != sources.NOT_A_DOCUMENT)
        accounted = self.documents + len(self.rejected) + len(self.filtered)
        if input_files != accounted:
            raise AssertionError(f"accounting: {input_files} files != {accounted} documents, rejects and filtered")
        return {
            "input_files": input_files,
            "documents": self.documents,
            "rejected": sum(rejected.values()),
            "skipped": skipped,
            "filtered": len(self.filtered),
            "rejected_by_reason": dict(sorted(rejected.items())),
            "filtered_by_reason": dict(sorted(Counter(f.reason for f in self.filtered).items())),
            "shards": shards,
            "documents_by_encoding": dict(sorted(self.by_column["encoding"].items())),
            "documents_by_flag": dict(sorted(self.by_column["flags"].items())),
            "documents_by_language": dict(sorted(self.by_column["lang"].items())),
        }


def run(
    roots: list[str | Path],
    out: str | Path,
    params: NormalizeParams | None = None,
    workers: int | None = None,
    progress: bool = True,
    filters: FilterParams | None = None,
    engine: str = "local",
    fresh: bool = False,
) -> dict:
    """Normalise every file under ``roots`` into ``out``; return the metrics (also in ``out/metrics.json``).

    ``out`` holds ``data/part-*.parquet`` (the records), ``rejects.parquet``,
    ``filtered.parquet``, ``metrics.json`` and ``shards.json`` (the index that
    ``reuse`` reads); ``input_files = documents + rejected + skipped + filtered``.

    The sources are cut into content-defined shards before any is read; each
    shard is one task for a worker (local processes or Ray, per ``engine``),
    which reads, normalises and encodes it, so the shards depend neither on the
    engine nor on the number of workers. Shards whose sources and normaliser
    did not change are copied from the previous ``out`` unless ``fresh``.
    """
    from tqdm.auto import tqdm

    params = params or NormalizeParams()
    filters = filters or FilterParams()
    workers = workers or default_workers()
    check_apart(out, roots)  # before the walk: an output inside a source must not be read, let alone replaced
    fingerprint = reuse.fingerprint(params, filters)
    previous = {} if fresh else reuse.previous(Path(out))
    initargs = (params, filters, fingerprint, frozenset(previous))
    bar = tqdm(unit="doc", desc="normalize", disable=None if progress else True)
    tally = Tally()
    # The workers start first: they import while this process walks the sources, and list the tar shards.
    with pool(workers, _init_worker, initargs, engine) as ordered, atomic_dir(out) as folder:
        plan = sources.plan(roots, params, list_archives=ordered)
        cuts = spans(plan.ids(), params.shard_rows)
        release_memory()  # what sorting the plan took
        bar.total = len(plan)
        (folder / "data").mkdir()
        index: list[dict] = []
        written = 0
        for shard in ordered(_normalize_in_worker, map(plan.sources, cuts)):
            if shard.reused:
                entry = previous[shard.key]
                parquet = entry.parquet()
                shard = (
                    ShardResult.from_index(entry.record, parquet) if parquet is not None  # its old file was changed or lost:
                    else normalize_shard(plan.sources(cuts[len(index)]), params, filters, fingerprint)  # normalised again, here
                )
            file = f"data/part-{written:05d}.parquet" if shard.rows else None
            if file:
                (folder / file).write_bytes(shard.parquet)
                written += 1
            index.append(shard.index_row(file))
            tally.add(shard)
            bar.update(shard.files)
        bar.close()
        tally.rejected.extend(plan.rejected)
        write_table(folder / "rejects.parquet", tally.rejected, schema.reject())
        write_table(folder / "filtered.parquet", tally.filtered, schema.filtered())
        metrics = tally.metrics(written, plan.input_files)
        write_json(folder / "metrics.json", metrics)
        write_json(folder / reuse.INDEX, {"fingerprint": fingerprint, "shards": index})
    return metrics


def output_shards(folder: str | Path) -> list[Path]:
    """The Parquet shards of a complete normalize output, in order; a one-line error for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BroadsheetError(f"normalized folder {folder} does not exist (run broadsheet normalize first)")
    if not (folder / "metrics.json").is_file() or not (folder / "data").is_dir():
        raise BroadsheetError(f"{folder} is not a complete normalize output (no metrics.json or data/)")
    paths = sorted((folder / "data").glob("part-*.parquet"))
    expected = schema.document()
    for path in paths:
        try:
            found = pq.read_schema(path)
        except (OSError, pa.ArrowException) as e:
            raise BroadsheetError(f"{path} is not a readable Parquet file: {e}") from None
        if not found.equals(expected.arrow, check_metadata=False):
            version = (found.metadata or {}).get(b"broadsheet.schema", b"unknown").decode()
            raise BroadsheetError(
                f"{path} has schema {version}, not {expected.name}.v{expected.version}: run broadsheet normalize again"
            )
    return paths


def _value_counts(array: pa.Array) -> Counter:
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()})
