"""The normalize stage: source folders -> Parquet shards + rejects table + metrics.

The edges of the pure ``normalize_document``: reading files, worker
processes, progress, and writing shards into a folder that replaces the old
one only when complete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet import quality, schema, sources
from broadsheet.document import normalize_document
from broadsheet.errors import BroadsheetError
from broadsheet.output import atomic_dir, check_apart, write_json
from broadsheet.parallel import default_workers, ordered_map
from broadsheet.params import FilterParams, NormalizeParams
from broadsheet.records import Filtered, Rejected, Source
from broadsheet.shards import PARQUET_OPTIONS, ShardWriter, parquet_writer

CHUNK_FILES = 64
"""Files per task handed to a worker: large enough to amortise the hand-over, small enough to balance."""


@dataclass(frozen=True)
class Chunk:
    """What one chunk of files became, in source order."""

    records: pa.RecordBatch
    rejected: list[Rejected]
    filtered: list[Filtered]

    @property
    def files(self) -> int:
        return self.records.num_rows + len(self.rejected) + len(self.filtered)


def process(chunk: list[Source], params: NormalizeParams, filters: FilterParams) -> Chunk:
    """Read, normalise and filter one chunk of files."""
    records, rejected, filtered = [], [], []
    for source in chunk:
        raw = sources.read(source, params.max_file_bytes)
        result = raw if isinstance(raw, Rejected) else normalize_document(raw, source, params)
        if isinstance(result, Rejected):
            rejected.append(result)
        elif (removed := quality.check(result, filters)) is not None:
            filtered.append(removed)
        else:
            records.append(result)
    return Chunk(pa.RecordBatch.from_pylist(records, schema=schema.document().arrow), rejected, filtered)


_worker_params: tuple[NormalizeParams, FilterParams] | None = None


def _init_worker(params: NormalizeParams, filters: FilterParams) -> None:
    global _worker_params
    _worker_params = (params, filters)


def _process_in_worker(chunk: list[Source]) -> Chunk:
    return process(chunk, *_worker_params)


def process_all(todo: list[Source], params: NormalizeParams, filters: FilterParams, workers: int) -> Iterator[Chunk]:
    """``process`` over ``todo`` in source order, on ``workers`` processes."""
    chunks = (todo[start : start + CHUNK_FILES] for start in range(0, len(todo), CHUNK_FILES))
    return ordered_map(_process_in_worker, chunks, workers, _init_worker, (params, filters))


def write_table(path: Path, rows: Iterable, table_schema: schema.Schema) -> None:
    """Rows (Rejected or Filtered values) as a Parquet table sorted by path, checked against ``table_schema``."""
    ordered = sorted((r.row() for r in rows), key=lambda r: (r["path"], r["reason"]))
    table = pa.Table.from_pylist(ordered, schema=table_schema.arrow)
    table_schema.check(table)
    pq.write_table(table, path, **PARQUET_OPTIONS)


class Tally:
    """Counts for metrics.json, accumulated chunk by chunk."""

    def __init__(self, input_files: int):
        self.input_files = input_files
        self.documents = 0
        self.rejected: list[Rejected] = []
        self.filtered: list[Filtered] = []
        self.by_column = {"flags": Counter(), "encoding": Counter(), "lang": Counter()}

    def add(self, chunk: Chunk) -> None:
        batch = chunk.records
        self.documents += batch.num_rows
        self.rejected.extend(chunk.rejected)
        self.filtered.extend(chunk.filtered)
        self.by_column["flags"].update(_value_counts(pc.list_flatten(batch.column("flags"))))
        self.by_column["encoding"].update(_value_counts(pc.struct_field(batch.column("source"), "encoding")))
        self.by_column["lang"].update(_value_counts(pc.fill_null(batch.column("lang"), "unknown")))

    def metrics(self, shards: int) -> dict:
        skipped = sum(1 for r in self.rejected if r.reason == sources.NOT_A_DOCUMENT)
        rejected = Counter(r.reason for r in self.rejected if r.reason != sources.NOT_A_DOCUMENT)
        accounted = self.documents + len(self.rejected) + len(self.filtered)
        if self.input_files != accounted:
            raise AssertionError(f"accounting: {self.input_files} files != {accounted} documents, rejects and filtered")
        return {
            "input_files": self.input_files,
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
) -> dict:
    """Normalise every file under ``roots`` into ``out``; return the metrics (also in ``out/metrics.json``).

    ``out`` holds ``data/part-*.parquet`` (the records), ``rejects.parquet``,
    ``filtered.parquet`` and ``metrics.json``; ``input_files = documents +
    rejected + skipped + filtered``.
    """
    from tqdm.auto import tqdm

    params = params or NormalizeParams()
    filters = filters or FilterParams()
    workers = workers or default_workers()
    check_apart(out, roots)  # before the walk: an output inside a source must not be read, let alone replaced
    plan = sources.plan(roots, params)
    tally = Tally(plan.input_files)
    tally.rejected.extend(plan.rejected)
    with atomic_dir(out) as folder:
        (folder / "data").mkdir()
        shards = ShardWriter(schema.document(), params.shard_rows, parquet_writer(folder / "data"))
        bar = tqdm(total=len(plan.sources), unit="doc", desc="normalize", disable=None if progress else True)
        for chunk in process_all(plan.sources, params, filters, workers):
            shards.add(chunk.records)
            tally.add(chunk)
            bar.update(chunk.files)
        bar.close()
        paths = shards.close()
        write_table(folder / "rejects.parquet", tally.rejected, schema.reject())
        write_table(folder / "filtered.parquet", tally.filtered, schema.filtered())
        metrics = tally.metrics(len(paths))
        write_json(folder / "metrics.json", metrics)
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
