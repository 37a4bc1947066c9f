"""The normalize stage: source folders -> Parquet shards + rejects table + metrics.

The edges of the pure ``normalize_document``: reading files, worker
processes, progress, and writing shards into a folder that replaces the old
one only when complete.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet import schema, sources
from broadsheet.document import normalize_document
from broadsheet.output import atomic_dir, check_apart, write_json
from broadsheet.params import NormalizeParams
from broadsheet.records import Rejected, Source
from broadsheet.shards import PARQUET_OPTIONS, ShardWriter, parquet_writer

CHUNK_FILES = 64
"""Files per task handed to a worker: large enough to amortise the hand-over, small enough to balance."""


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def process(chunk: list[Source], params: NormalizeParams) -> tuple[pa.RecordBatch, list[Rejected]]:
    """Read and normalise one chunk of files, in order: an Arrow batch of records and the rejects."""
    records, rejected = [], []
    for source in chunk:
        raw = sources.read(source, params.max_file_bytes)
        result = raw if isinstance(raw, Rejected) else normalize_document(raw, source, params)
        (rejected if isinstance(result, Rejected) else records).append(result)
    return pa.RecordBatch.from_pylist(records, schema=schema.document().arrow), rejected


_worker_params: NormalizeParams | None = None


def _init_worker(params: NormalizeParams) -> None:
    global _worker_params
    _worker_params = params


def _process_in_worker(chunk: list[Source]):
    return process(chunk, _worker_params)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def process_all(todo: list[Source], params: NormalizeParams, workers: int) -> Iterator[tuple[pa.RecordBatch, list[Rejected]]]:
    """``process`` over ``todo`` in source order, on ``workers`` processes, with a bounded number in flight."""
    chunks = _chunks(todo, CHUNK_FILES)
    if workers <= 1:
        for chunk in chunks:
            yield process(chunk, params)
        return
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers, initializer=_init_worker, initargs=(params,)) as pool:
        in_flight: deque = deque()
        for chunk in chunks:
            in_flight.append(pool.apply_async(_process_in_worker, (chunk,)))
            if len(in_flight) >= 4 * workers:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()


def write_rejects(path: Path, rejected: Iterable[Rejected]) -> None:
    rows = sorted((r.row() for r in rejected), key=lambda r: (r["path"], r["reason"]))
    table = pa.Table.from_pylist(rows, schema=schema.reject().arrow)
    schema.reject().check(table)
    pq.write_table(table, path, **PARQUET_OPTIONS)


def run(
    roots: list[str | Path],
    out: str | Path,
    params: NormalizeParams | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Normalise every file under ``roots`` into ``out``; return the metrics (also in ``out/metrics.json``)."""
    from tqdm.auto import tqdm

    params = params or NormalizeParams()
    workers = workers or default_workers()
    plan = sources.plan(roots, params)
    check_apart(out, roots)
    rejected = list(plan.rejected)
    documents, flags, encodings = 0, Counter(), Counter()
    with atomic_dir(out) as folder:
        (folder / "data").mkdir()
        shards = ShardWriter(schema.document(), params.shard_rows, parquet_writer(folder / "data"))
        bar = tqdm(total=len(plan.sources), unit="doc", desc="normalize", disable=None if progress else True)
        for batch, chunk_rejected in process_all(plan.sources, params, workers):
            shards.add(batch)
            rejected.extend(chunk_rejected)
            documents += batch.num_rows
            flags.update(_value_counts(pc.list_flatten(batch.column("flags"))))
            encodings.update(_value_counts(pc.struct_field(batch.column("source"), "encoding")))
            bar.update(batch.num_rows + len(chunk_rejected))
        bar.close()
        paths = shards.close()
        write_rejects(folder / "rejects.parquet", rejected)
        metrics = _metrics(plan.input_files, documents, rejected, len(paths), flags, encodings)
        write_json(folder / "metrics.json", metrics)
    return metrics


def _value_counts(array: pa.Array) -> Counter:
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()})


def _metrics(input_files: int, documents: int, rejected: list[Rejected], shards: int, flags: Counter, encodings: Counter) -> dict:
    skipped = sum(1 for r in rejected if r.reason == sources.NOT_A_DOCUMENT)
    by_reason = Counter(r.reason for r in rejected if r.reason != sources.NOT_A_DOCUMENT)
    if input_files != documents + len(rejected):
        raise AssertionError(f"accounting: {input_files} files != {documents} documents + {len(rejected)} rejects")
    return {
        "input_files": input_files,
        "documents": documents,
        "rejected": len(rejected) - skipped,
        "skipped": skipped,
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "shards": shards,
        "documents_by_encoding": dict(sorted(encodings.items())),
        "documents_by_flag": dict(sorted(flags.items())),
    }
