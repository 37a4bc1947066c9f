"""The publish stage: normalised shards -> a ``DatasetDict`` in the ``save_to_disk`` layout, and more.

Rows keep source order, less the duplicates dedup decided to drop; each goes
to the split its id hashes to; each split is cut into content-defined shards
(``{split}/data-0000i-of-0000N.arrow``, and the same rows as
``data/{split}-0000i-of-0000N.parquet`` for the Hub's layout). The files
``datasets`` reads (``dataset_dict.json``, ``state.json``,
``dataset_info.json``) are written here, with a fingerprint derived from the
shards' bytes, so nothing in the output depends on paths, times or machines.
Beside them: the manifest (for diffs), metrics, plot data, the card and
``croissant.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet import card, croissant, dedup, ingest, report, schema
from broadsheet.errors import BroadsheetError
from broadsheet.output import atomic_dir, check_apart, sha256_file, write_json
from broadsheet.params import SPLITS, PublishParams
from broadsheet.shards import PARQUET_OPTIONS, ShardWriter, parquet_writer
from broadsheet.split import split_of

READ_BATCH_ROWS = 4096


def _hf_schema(doc: schema.Schema, features) -> pa.Schema:
    hf = json.dumps({"info": {"features": features.to_dict()}}, sort_keys=True)
    return doc.arrow.with_metadata({**doc.arrow.metadata, b"huggingface": hf.encode()})


def _split_writer(folder: Path, export: Path, split: str, arrow_schema: pa.Schema):
    """Shard i of a split: ``folder/part-i.arrow`` for ``load_from_disk``, and the same rows as
    ``export/{split}-part-i.parquet`` for the Hub's layout (``load_dataset``, polars, duckdb)."""

    def write(table: pa.Table, index: int) -> Path:
        table = table.replace_schema_metadata(arrow_schema.metadata)
        path = folder / f"part-{index:05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, arrow_schema) as stream:
            # A stream with no batch loads as a column of zero chunks, which ``datasets`` cannot cast.
            stream.write_batch(table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], arrow_schema))
        pq.write_table(table, export / f"{split}-part-{index:05d}.parquet", **PARQUET_OPTIONS)
        return path

    return write


def _finish_split(folder: Path, export: Path, split: str, writer: ShardWriter, arrow_schema: pa.Schema):
    """Close the split's shards (one empty shard for an empty split: ``datasets`` cannot load zero files), name them
    ``data-0000i-of-0000N.arrow`` and ``data/{split}-0000i-of-0000N.parquet``; return the Arrow files and row counts."""
    parts, lengths = writer.close(), writer.lengths
    if not parts:
        parts, lengths = [writer.write(arrow_schema.empty_table(), 0)], [0]
    final = []
    for i, part in enumerate(parts):
        name = f"{i:05d}-of-{len(parts):05d}"
        final.append(part.rename(folder / f"data-{name}.arrow"))
        (export / f"{split}-part-{i:05d}.parquet").rename(export / f"{split}-{name}.parquet")
    return final, lengths


def _state(split: str, files: list[Path]) -> dict:
    digest = hashlib.sha256("".join(sha256_file(p) for p in files).encode()).hexdigest()
    return {
        "_data_files": [{"filename": p.name} for p in files],
        "_fingerprint": digest[:16],
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": split,
    }


MANIFEST_SHARD_FACTOR = 20
"""Manifest rows are small: its content-defined shards target this many times the data's shard size."""


CONTENT_FIELDS = ("title", "dateline", "text", "related")


def content_sha256(row: dict) -> str:
    """Hash of what a reader sees of a document; an edit to any of it is a change between versions."""
    blob = json.dumps([row[f] for f in CONTENT_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _manifest_batch(batch: pa.RecordBatch, assigned: pa.Array) -> pa.RecordBatch:
    source = batch.column("source")
    content = batch.select(list(CONTENT_FIELDS)).to_pylist()
    columns = {
        "id": batch.column("id"),
        "split": assigned,
        "text_sha256": batch.column("text_sha256"),
        "content_sha256": pa.array([content_sha256(row) for row in content], pa.string()),
        "path": pc.struct_field(source, "path"),
        "raw_sha256": pc.struct_field(source, "raw_sha256"),
    }
    target = schema.manifest().arrow
    return pa.RecordBatch.from_arrays([columns[name] for name in target.names], schema=target)


def _split_info(name: str, files: list[Path], lengths: list[int]):
    from datasets import SplitInfo

    return SplitInfo(name=name, num_bytes=sum(p.stat().st_size for p in files), num_examples=sum(lengths), shard_lengths=lengths)


class _Writers:
    """The content-defined shard writers of the three splits and of the manifest."""

    def __init__(self, folder: Path, params: PublishParams, arrow_schema: pa.Schema):
        doc = schema.document()
        self.folder, self.arrow_schema = folder, arrow_schema
        self.export = folder / "data"
        self.export.mkdir()
        self.splits = {}
        for split in SPLITS:
            (folder / split).mkdir()
            self.splits[split] = ShardWriter(doc, params.shard_rows, _split_writer(folder / split, self.export, split, arrow_schema))
        (folder / "manifest").mkdir()
        document_schema = {"broadsheet.document_schema": doc.arrow.metadata[b"broadsheet.schema"].decode()}
        self.manifest = ShardWriter(
            schema.manifest(), params.shard_rows * MANIFEST_SHARD_FACTOR, parquet_writer(folder / "manifest", document_schema)
        )

    def add(self, batch: pa.RecordBatch, assigned: pa.Array) -> None:
        self.manifest.add(_manifest_batch(batch, assigned))
        for split, writer in self.splits.items():
            part = batch.filter(pc.equal(assigned, split))
            if part.num_rows:
                writer.add(part)

    def close(self):
        """Finish every shard; return the SplitDict and each split's state.json."""
        from datasets import SplitDict

        if not self.manifest.close():  # an empty corpus still has a manifest to diff against
            self.manifest.write(schema.manifest().arrow.empty_table(), 0)
        split_dict, states = SplitDict(), {}
        for split, writer in self.splits.items():
            files, lengths = _finish_split(self.folder / split, self.export, split, writer, self.arrow_schema)
            split_dict.add(_split_info(split, files, lengths))
            states[split] = _state(split, files)
        return split_dict, states


def _batches(paths: list[Path], doc: schema.Schema, progress: bool):
    from tqdm.auto import tqdm

    for path in tqdm(paths, unit="shard", desc="publish", disable=None if progress else True):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS):
            yield pa.RecordBatch.from_arrays(batch.columns, schema=doc.arrow)


def _accounting(normalized: Path, published: int, deduplicated: int) -> dict:
    """Where every input file went: ``input_files = documents + rejected + skipped + filtered + deduplicated``."""
    upstream = json.loads((normalized / "metrics.json").read_text(encoding="utf-8"))
    counts = {key: upstream[key] for key in ("input_files", "rejected", "skipped", "filtered")}
    counts.update(documents=published, deduplicated=deduplicated)
    if counts["input_files"] != published + deduplicated + counts["rejected"] + counts["skipped"] + counts["filtered"]:
        raise BroadsheetError(f"{normalized} and the dedup decisions do not add up: {counts}; run dvc repro")
    return counts


def run(
    normalized: str | Path,
    out: str | Path,
    params: PublishParams | None = None,
    progress: bool = True,
    changelog: str | Path | None = None,
    duplicates: str | Path | None = None,
    drop: str = "near",
    lock: dict | None = None,
    settings: dict | None = None,
) -> dict:
    """Publish the normalize output ``normalized`` into ``out``; return the metrics (also in ``out/metrics.json``).

    ``duplicates``: a dedup output; its non-kept members are left out as ``drop``
    says (exact | near | none). ``changelog``: a CHANGELOG.md whose sections
    become the card's "Versions" section. ``lock`` (dvc.lock) and ``settings``
    (params.yaml), parsed, go into the card's "Creation" section.
    """
    from datasets import DatasetInfo
    from datasets.utils.py_utils import asdict

    params = params or PublishParams()
    normalized = Path(normalized)
    paths = ingest.output_shards(normalized)
    check_apart(out, [normalized, *([duplicates] if duplicates else [])])
    dropped = dedup.dropped(duplicates, drop) if duplicates else {}
    versions = _read_changelog(changelog)
    doc = schema.document()
    features = doc.features()
    stats = report.Stats()
    with atomic_dir(out) as folder:
        writers = _Writers(folder, params, _hf_schema(doc, features))
        left_out = 0
        for batch in _batches(paths, doc, progress):
            ids = batch.column("id").to_pylist()
            if dropped:
                keep = [i not in dropped for i in ids]
                left_out += keep.count(False)
                batch, ids = batch.filter(pa.array(keep)), [i for i, k in zip(ids, keep) if k]
            writers.add(batch, pa.array([split_of(i, params.splits) for i in ids], pa.string()))
            stats.add(batch)
        split_dict, states = writers.close()
        info = DatasetInfo(
            description=params.card.description,
            citation=params.card.citation,
            homepage=params.card.homepage,
            license=params.card.license,
            features=features,
            splits=split_dict,
            dataset_size=sum(s.num_bytes for s in split_dict.values()),
        )
        for split in SPLITS:
            write_json(folder / split / "state.json", states[split])
            write_json(folder / split / "dataset_info.json", asdict(info), sort_keys=False)  # features keep column order
        write_json(folder / "dataset_dict.json", {"splits": list(SPLITS)})
        metrics = {
            **_accounting(normalized, sum(s.num_examples for s in split_dict.values()), left_out),
            **stats.metrics(),
            "splits": {
                s.name: {"rows": s.num_examples, "bytes": s.num_bytes, "shards": len(s.shard_lengths)}
                for s in split_dict.values()
            },
        }
        write_json(folder / "metrics.json", metrics)
        exports = {split: [(p.relative_to(folder), sha256_file(p)) for p in sorted(writers.export.glob(f"{split}-*.parquet"))] for split in SPLITS}
        write_json(folder / "croissant.json", croissant.describe(params.card, _latest_release(versions), exports, doc))
        report.write_plots(folder / "plots", stats)
        text = card.render(info, params.card, metrics, doc, versions, _first_record(folder), lock, settings)
        (folder / "README.md").write_text(text, encoding="utf-8")
    return metrics


def _first_record(folder: Path) -> dict | None:
    """The first record in source order of the first non-empty split: the card's example."""
    for split in SPLITS:
        with pa.memory_map(str(folder / split / f"data-00000-of-{len(list((folder / split).glob('data-*.arrow'))):05d}.arrow")) as f:
            table = pa.ipc.open_stream(f).read_all()
        if table.num_rows:
            return table.slice(0, 1).to_pylist()[0]
    return None


def render_card(
    folder: str | Path, params: PublishParams, changelog: str | Path | None = None, lock: dict | None = None, settings: dict | None = None
) -> str:
    """The card of the published ``folder``, rendered again from its own files and ``params``."""
    from datasets import DatasetInfo

    folder = Path(folder)
    try:
        info = DatasetInfo.from_dict(json.loads((folder / SPLITS[0] / "dataset_info.json").read_text(encoding="utf-8")))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BroadsheetError(f"{folder} is not a published dataset: {e}") from None
    return card.render(info, params.card, metrics, schema.document(), _read_changelog(changelog), _first_record(folder), lock, settings)


def _latest_release(changelog: str) -> str:
    """The newest version named in the changelog ('## v2' -> 'v2'); 'unreleased' before the first."""
    for line in changelog.splitlines():
        if line.startswith("## "):
            return line[3:].strip()
    return "unreleased"


def _read_changelog(path: str | Path | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise BroadsheetError(f"cannot read changelog {path}: {e.strerror or e}") from None
