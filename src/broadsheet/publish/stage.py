"""The publish stage: normalised shards -> a ``DatasetDict`` in the ``save_to_disk`` layout, and more (``layout``).

Rows keep source order, less the duplicates dedup decided to drop; each goes
to the split its id hashes to; each split is cut into content-defined shards,
written both as Arrow (``load_from_disk``) and as Parquet in the Hub's layout
(``load_dataset``). The files ``datasets`` reads beside them carry a
fingerprint derived from the shards' bytes, so nothing in the output depends
on paths, times or machines. Beside them: the manifest (for diffs), metrics,
plot data, the card and ``croissant.json``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet import engines
from broadsheet.core import provenance, schema
from broadsheet.core.display import counted
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import atomic_dir, check_apart, read_json, write_json
from broadsheet.core.params import SPLITS, Params, PublishParams
from broadsheet.core.progress import Progress
from broadsheet.core.shards import PARQUET_OPTIONS
from broadsheet.dedup import folder as dedup_folder
from broadsheet.normalize import folder as normalized_folder
from broadsheet.publish import card, changelog, croissant, layout, manifest, outcomes, plan, reuse, sources
from broadsheet.publish.stats import Stats, write_plots

STAGE = "publish"
INLINE_ROWS = 5000
"""Fewer rows than this to encode are encoded in this process."""


@dataclass(frozen=True)
class Inputs:
    normalized: str | Path
    """A normalize output."""
    duplicates: str | Path | None = None
    """A dedup output: its duplicates are left out as ``dedup.drop`` says (exact | near | none)."""
    changelog: str | Path | None = None
    """A CHANGELOG.md whose sections become the card's "Versions" section."""


def run(
    inputs: Inputs | str | Path,
    out: str | Path,
    params: Params | None = None,
    *,
    progress: bool = True,
    fresh: bool = False,
    force: bool = False,
) -> dict:
    """Publish ``inputs`` (or just a normalize output) into ``out``; return the metrics (also in its metrics.json).

    Shards whose rows did not change are taken from the previous ``out`` unless ``fresh``.
    ``out`` is replaced only if broadsheet publish wrote it, unless ``force``."""
    params = params or Params()
    inputs = inputs if isinstance(inputs, Inputs) else Inputs(inputs)
    paths = normalized_folder.shards(inputs.normalized)
    check_apart(out, [inputs.normalized, *([inputs.duplicates] if inputs.duplicates else [])])
    dropped = dedup_folder.dropped(inputs.duplicates, params.dedup.drop) if inputs.duplicates else {}
    if inputs.duplicates:
        _check_same_corpus(inputs)
    versions = changelog.read(inputs.changelog)
    upstream = [normalized_folder.provenance(inputs.normalized)]
    if inputs.duplicates:
        upstream.append(dedup_folder.provenance(inputs.duplicates))
    record = {**provenance.record(STAGE, params), "upstream": upstream}
    doc = schema.document()
    normalizer = normalized_folder.fingerprint(inputs.normalized)
    fingerprint = reuse.fingerprint(normalizer)
    # Without the normaliser's fingerprint a row's source does not decide it: nothing can be taken.
    reusable = normalizer and not fresh
    previous = layout.previous(Path(out), fingerprint) if reusable else reuse.Previous()
    with atomic_dir(out, layout.OWNER, force) as folder:
        split_dict, exported, stats, left_out, fingerprints = _write_splits(
            folder, paths, dropped, previous, params, fingerprint, progress
        )
        info = _dataset_info(split_dict, params.publish, doc)
        _write_dataset_info(folder, info)
        accounting = _accounting(normalized_folder.metrics(inputs.normalized), split_dict.total_num_examples, left_out)
        _write_outcomes(folder, inputs.normalized, dropped)
        metrics = {
            **accounting,
            **stats.metrics(),
            "splits": _split_metrics(split_dict),
            "fingerprint": fingerprints,
        }
        write_json(folder / layout.METRICS, metrics)
        data_files = layout.data_files(folder)
        exports = {split: list(zip(data_files[split], exported[split])) for split in SPLITS}
        write_json(
            folder / layout.CROISSANT,
            croissant.describe(
                params.publish.card, changelog.latest_release(versions), exports, doc, metrics["fingerprint"]["all"]
            ),
        )
        write_plots(folder / layout.PLOTS, stats)
        write_json(folder / provenance.FILE, record)
        text = card.render(
            info, params.publish.card, metrics, doc, data_files, versions, layout.first_record(folder), _stages(record)
        )
        (folder / layout.CARD).write_text(text, encoding="utf-8")
    return metrics


def _write_splits(folder: Path, paths: list[Path], dropped: dict, previous, params: Params, fingerprint, progress):
    """Every record not ``dropped`` into its split's shards and the manifest (content hashes the ``previous``
    output holds are not computed again); the SplitDict, the sha256s of the Parquet files, Stats, and how many
    were left out."""
    from datasets import SplitDict

    publish, threads = params.publish, engines.default_workers()  # Arrow reads and hashlib free the GIL
    planned = plan.make(paths, dropped, publish.splits, publish.shard_rows, fingerprint, threads)
    identity = (planned.kept.column(name).combine_chunks() for name in ("id", "source.path", "source.raw_sha256"))
    known = previous.content_hashes(*identity)
    layout.make_dirs(folder)
    index, computed = _write_shards(folder, paths, planned, previous, known, params, progress)
    rows = manifest.rows(planned.kept, _fill(known, computed))
    manifest_sha256 = layout.write_manifest(folder, rows, publish.shard_rows, previous.manifest_files)
    split_dict, exported = SplitDict(), {}
    for split, shards in planned.shards.items():
        split_dict.add(layout.write_split(folder, split, index[split], [len(shard.kept) for shard in shards]))
        exported[split] = [entry["parquet_sha256"] for entry in index[split]]
    layout.write_index(folder, fingerprint, index, manifest_sha256)
    stats = Stats()
    stats.add(planned.kept)
    return split_dict, exported, stats, planned.left_out, manifest.fingerprints(rows)


def _write_shards(folder: Path, paths: list[Path], planned: plan.Plan, previous, known: pa.Array, params, progress):
    """Every shard of the plan, taken from the ``previous`` output where it can give it, else written by a task
    (``layout.Encode``) on the workers of ``params.compute``, in this process for a few rows; the index (per split,
    each shard's key and files' sha256) and the content hashes computed: (positions among the kept, hashes)."""
    doc = schema.document()
    arrow_schema = layout.hf_schema(doc, doc.features())
    hashed = known.is_valid().to_numpy(zero_copy_only=False)
    index = {split: [{"key": shard.key} for shard in shards] for split, shards in planned.shards.items()}
    shards, waiting, computed = planned.in_order(), deque(), []

    def encoded(shard: plan.Shard) -> bool:
        """Whether the previous output cannot give the shard: its key is not there, or a row's hash is unknown."""
        return shard.key not in previous.shards or not hashed[shard.kept].all()

    def files(shard: plan.Shard) -> tuple[Path, Path]:
        return layout.shard_files(folder, shard.split, shard.key)

    def tasks():
        for shard, taken in zip(shards, takes):
            entry = index[shard.split][shard.position]
            if taken is not None and taken.result():
                entry.update(zip(("arrow_sha256", "parquet_sha256"), previous.shards[shard.key].sha256))
                bar.update(1)
                continue
            unhashed = np.flatnonzero(~hashed[shard.kept])
            waiting.append((entry, shard.kept[unhashed]))
            if (segments := planned_segments.pop(id(shard), None)) is None:  # a previous shard that failed its check
                segments = shard.segments(paths)
                if shared is not None:
                    shared.use(path for path, _ in segments)
            read = sources.rows if shared is None else shared.rows
            yield layout.Encode(segments, plan.digest(shard.rows), pa.array(unhashed), arrow_schema, files(shard), read)

    planned_segments = {id(shard): shard.segments(paths) for shard in shards if encoded(shard)}
    inline = sum(len(shard.kept) for shard in shards if encoded(shard)) < INLINE_ROWS  # workers would take longer
    shared = sources.Shared() if inline or engines.in_process(params.compute) else None
    if shared is not None:
        shared.use(path for segments in planned_segments.values() for path, _ in segments)
    with (
        _threads(engines.default_workers()) as checks,  # a previous shard's files checked while others are written
        Progress(STAGE, "shard", total=len(shards), enabled=progress) as bar,
        engines.pool(params.compute, eager=False, threads=True) as ordered,
    ):
        takes = [
            None if encoded(s) else checks.submit(layout.take, previous.shards[s.key], s.rows, *files(s))
            for s in shards
        ]
        for sha256, hashes in (map if inline else ordered)(layout.run, tasks()):
            entry, positions = waiting.popleft()
            entry.update(arrow_sha256=sha256[0], parquet_sha256=sha256[1])
            computed.append((positions, hashes))
            bar.update(1)
    return index, computed


@contextmanager
def _threads(count: int) -> Iterator[ThreadPoolExecutor]:
    """Threads whose work not yet started is dropped on the way out (on an error: nothing more is read)."""
    pool = ThreadPoolExecutor(count)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def _fill(known: pa.Array, computed: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """``known``, its nulls filled from ``computed``: (positions, their hashes)."""
    where = np.arange(len(known))
    found = [hashes for _, hashes in computed]
    if computed:
        where[np.concatenate([positions for positions, _ in computed])] = len(known) + np.arange(sum(map(len, found)))
    return pa.concat_arrays([known, *found]).take(where)


def _dataset_info(split_dict, params: PublishParams, doc: schema.Schema):
    from datasets import DatasetInfo

    return DatasetInfo(
        description=params.card.description,
        citation=params.card.citation,
        homepage=params.card.homepage,
        license=params.card.license,
        features=doc.features(),
        splits=split_dict,
        dataset_size=sum(s.num_bytes for s in split_dict.values()),
    )


def _write_dataset_info(folder: Path, info) -> None:
    from datasets.utils.py_utils import asdict

    for split in SPLITS:
        write_json(folder / split / layout.DATASET_INFO, asdict(info), sort_keys=False)  # features keep column order
    write_json(folder / layout.DATASET_DICT, {"splits": list(SPLITS)})


def _split_metrics(split_dict) -> dict:
    return {
        s.name: {"rows": s.num_examples, "bytes": s.num_bytes, "shards": len(s.shard_lengths)}
        for s in split_dict.values()
    }


def _check_same_corpus(inputs: Inputs) -> None:
    """The dedup output was made from this normalize output (as many documents; else another corpus's)."""
    normalized = normalized_folder.metrics(inputs.normalized)["documents"]
    deduped = dedup_folder.metrics(inputs.duplicates).get("documents")
    if deduped != normalized:
        raise BroadsheetError(
            f"{inputs.duplicates} holds the decisions of {deduped} documents, {inputs.normalized} has {normalized}: "
            "it was made from another normalize output (run broadsheet dedup on this one)"
        )


def _write_outcomes(folder: Path, normalized: str | Path, dropped: dict[str, dict]) -> None:
    """The outcomes table, and the takedowns (id, reason, date: no text) published on their own."""
    taken = normalized_folder.table(normalized, normalized_folder.TAKEDOWNS)
    rejects = normalized_folder.table(normalized, normalized_folder.REJECTS)
    filtered = normalized_folder.table(normalized, normalized_folder.FILTERED)
    pq.write_table(outcomes.table(rejects, filtered, dropped, taken), folder / layout.OUTCOMES, **PARQUET_OPTIONS)
    pq.write_table(taken, folder / layout.TAKEDOWNS, **PARQUET_OPTIONS)


def _accounting(upstream: dict, published: int, deduplicated: int) -> dict:
    """Where every input file went:
    ``input_files = documents + rejected + skipped + filtered + deduplicated + taken_down``."""
    counts = {key: upstream.get(key, 0) for key in ("input_files", "rejected", "skipped", "filtered", "taken_down")}
    counts.update(documents=published, deduplicated=deduplicated)
    others = ("rejected", "skipped", "filtered", "taken_down")
    if counts["input_files"] != published + deduplicated + sum(counts[k] for k in others):
        raise BroadsheetError(f"the normalize output and the dedup decisions do not add up: {counts}; run dvc repro")
    return counts


def _stages(record: dict) -> list[dict]:
    """The provenance records of every stage that made a published folder, in pipeline order."""
    return [*record.get("upstream", []), {k: v for k, v in record.items() if k != "upstream"}]


def render_card(folder: str | Path, params: PublishParams, changelog_path: str | Path | None = None) -> str:
    """The card of the published ``folder``, rendered again from its own files and ``params`` (the card's text)."""
    from datasets import DatasetInfo

    folder = Path(folder)
    if not (folder / layout.DATASET_DICT).is_file():
        raise BroadsheetError(f"{folder} is not a published dataset (no {layout.DATASET_DICT})")
    info = DatasetInfo.from_dict(read_json(folder / SPLITS[0] / layout.DATASET_INFO))
    metrics = read_json(folder / layout.METRICS)
    stages = _stages(read_json(folder / provenance.FILE))
    versions = changelog.read(changelog_path)
    files, example = layout.data_files(folder), layout.first_record(folder)
    return card.render(info, params.card, metrics, schema.document(), files, versions, example, stages)


def summary(metrics: dict) -> str:
    """The run in one line, for people (a corpus with no document is worth a warning)."""
    splits = ", ".join(f"{name} {values['rows']:,}" for name, values in metrics["splits"].items())
    kept = counted(metrics["documents"], "document")
    line = f"publish: {kept} ({splits}), {counted(metrics['deduplicated'], 'duplicate')} left out"
    return line + ("; warning: the corpus has no document" if not metrics["documents"] else "")
