"""The normalize stage: source folders -> Parquet shards, a rejects table and metrics (format: ``folder``).

The edges of the pure ``text.document.normalize_document``: the walk, the
workers, progress, and writing the shards into a folder that replaces the old
one only when complete.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet import engines
from broadsheet.core import provenance, schema
from broadsheet.core.display import counted
from broadsheet.core.files import atomic_dir, check_apart, write_hashed, write_json
from broadsheet.core.params import Params
from broadsheet.core.progress import Progress
from broadsheet.core.shards import PARQUET_OPTIONS, spans
from broadsheet.core.takedowns import Takedown
from broadsheet.inputs import walk
from broadsheet.inputs.names import identify
from broadsheet.normalize import folder as layout
from broadsheet.normalize import reuse
from broadsheet.normalize.tally import Tally
from broadsheet.normalize.task import ShardResult, in_worker, init_worker, normalize_shard

STAGE = "normalize"


def run(
    sources: list[str | Path],
    out: str | Path,
    params: Params | None = None,
    *,
    progress: bool = True,
    fresh: bool = False,
    force: bool = False,
    takedowns: dict[str, Takedown] | None = None,
) -> dict:
    """Normalise every file under the folders ``sources`` into ``out``; return the metrics (also in its metrics.json).

    The sources are cut into content-defined shards before any is read; each
    shard is one task for a worker (``params.compute``: local processes or Ray),
    which reads, normalises and encodes it, so the shards depend neither on the
    engine nor on the number of workers. Unless ``fresh``, what of the previous ``out``
    did not change is reused (``reuse``): shards whose sources and normaliser did not change,
    and in the others the records of unchanged sources.
    ``out`` is replaced only if broadsheet normalize wrote it, unless ``force``.
    Sources whose id ``takedowns`` (``core.takedowns.read``) lists are left out unread and listed.
    """
    takedowns = takedowns or {}
    params = params or Params()
    check_apart(out, sources)  # before the walk: an output inside a source must not be read, let alone replaced
    fingerprint = reuse.fingerprint(params.normalize, params.filter)
    previous = reuse.Previous() if fresh else reuse.previous(Path(out).absolute())  # workers may run elsewhere
    earlier = previous.earlier(fingerprint)
    initargs = (params.normalize, params.filter, fingerprint, frozenset(previous.entries), earlier)
    # The workers start first: they import while this process walks the sources, and list the tar shards.
    with (
        engines.pool(params.compute, init_worker, initargs) as ordered,
        Progress(STAGE, "doc", enabled=progress) as bar,
        atomic_dir(out, layout.OWNER, force) as folder,
    ):
        plan = walk.plan(sources, params.normalize, list_archives=ordered, listings=previous.listings(fingerprint))
        taken = {doc_id for doc_id, _ in plan.take_down(set(takedowns))}
        cuts = spans(plan.ids(), params.normalize.shard_rows)
        release_memory()  # what sorting the plan took
        bar.total = len(plan)
        tally, index = Tally(), []

        def again(position: int) -> ShardResult:  # a reused shard whose old file was changed or lost
            return normalize_shard(plan.sources(cuts[position]), params.normalize, params.filter, fingerprint)

        results = ordered(in_worker, map(plan.rows, cuts))
        contents: list[pa.Array] = []
        written = _write_shards(folder, results, previous, again, tally, index, bar, contents)
        tally.rejected.extend(plan.rejected)
        rejects = [{**r.row(), "id": identify(r.path)[0]} for r in tally.rejected]
        layout.write_table(folder / layout.REJECTS, rejects, schema.reject())
        layout.write_table(folder / layout.FILTERED, [f.row() for f in tally.filtered], schema.filtered())
        layout.write_table(folder / layout.TAKEDOWNS, [takedowns[i].row() for i in taken], schema.takedown())
        metrics = tally.metrics(written, plan.input_files, len(taken), sorted(set(takedowns) - taken))
        write_json(folder / layout.METRICS, metrics)
        archives = _write_listings(folder / layout.ARCHIVES, plan, contents)
        write_json(folder / layout.INDEX, {"fingerprint": fingerprint, "shards": index, "archives": archives})
        write_json(folder / provenance.FILE, provenance.record(STAGE, params))
    return metrics


def _write_shards(
    folder: Path,
    results,
    previous: reuse.Previous,
    again,
    tally: Tally,
    index: list[dict],
    bar: Progress,
    contents: list[pa.Array],
) -> int:
    """Put each shard's Parquet file in place as its result comes (a reused one from the previous output);
    return how many. ``contents`` gets what each shard's key took of its sources."""
    (folder / layout.DATA).mkdir()
    same_bytes = previous.by_sha256()
    written = 0
    for shard in results:
        contents.append(pa.array(shard.contents, pa.string()))
        placed = False
        if shard.reused:
            entry = previous.entries[shard.key]
            kept = ShardResult.from_index(entry.record)
            # every source of the shard is accounted for once, as its index row says
            placed = kept.files == len(shard.contents) and entry.keep(folder)
            shard = kept if placed else again(len(index))
        file = layout.shard_name(shard.sha256) if shard.rows else None
        if shard.rows and not placed:
            _put(folder, shard, same_bytes.get(shard.sha256))
        index.append(shard.index_row(file))
        written += 1 if shard.rows else 0
        tally.add(shard)
        bar.update(shard.files)
    return written


def _write_listings(path: Path, plan: walk.Plan, contents: list[pa.Array]) -> str | None:
    """Write this run's tar listings (``reuse.archive_listings``) to ``path``; their sha256, None if none."""
    sources = plan.table.select(["container", "offset"]).take(plan.order)
    table = reuse.archive_listings(
        plan.unchanged_listings(),  # after every read: a shard written meanwhile is listed again next time
        sources["container"].combine_chunks(),
        sources["offset"].combine_chunks(),
        pa.concat_arrays(contents) if contents else pa.array([], pa.string()),
    )
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return write_hashed(path, sink.getvalue())


def _put(folder: Path, shard: ShardResult, same: reuse.Entry | None) -> None:
    """Write a shard's file into ``folder``; one that a previous file holds byte for byte (every record reused)
    is kept from it instead, so that DVC's state knows its hash without reading it."""
    if same is None or not same.keep(folder):
        write_hashed(folder / layout.shard_name(shard.sha256), shard.parquet, shard.sha256)


def release_memory() -> None:
    """Give memory freed by Arrow and by malloc back to the system.

    Arrow's allocator and glibc keep freed pages for reuse: after the plan is
    sorted that is memory the main process will not use again. (Not after every
    shard in a worker: the next shard would fault the same pages back in.)
    """
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


try:
    _LIBC = ctypes.CDLL("libc.so.6")  # glibc: malloc_trim; elsewhere there is nothing to trim this way
except OSError:
    _LIBC = None


def summary(metrics: dict) -> str:
    """The run in one line, for people."""
    line = (
        f"normalize: {counted(metrics['input_files'], 'input')}: {counted(metrics['documents'], 'document')}, "
        f"{metrics['rejected']:,} rejected, {metrics['skipped']:,} skipped, {metrics['filtered']:,} filtered"
    )
    if metrics["taken_down"]:
        line += f", {metrics['taken_down']:,} taken down"
    if metrics["takedowns_unmatched"]:
        line += f"; warning: {counted(len(metrics['takedowns_unmatched']), 'takedown')} matched no document"
    return line
