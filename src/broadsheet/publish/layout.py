"""The published folder's format, owned here: every file name in it, the writers of its shards, and reading it.

```
dataset_dict.json                      the save_to_disk layout of a DatasetDict (load_from_disk)
{split}/data-0000i-of-0000N.arrow      content-defined Arrow shards of each split
{split}/state.json, dataset_info.json  what datasets reads beside them (a content-derived fingerprint)
data/{split}-0000i-of-0000N.parquet    the same rows, in the Hub's layout (load_dataset, pandas, polars, duckdb)
manifest/part-0000i.parquet            per document: id, split, hashes (schemas/manifest; what diff compares)
outcomes.parquet                       every input that is no published document, and why (schemas/outcome)
takedowns.parquet                      the documents taken down: id, reason, date (schemas/takedown; no text)
README.md                              the dataset card
croissant.json                         MLCommons Croissant description of the Parquet export
metrics.json                           the accounting and corpus statistics
plots/                                 the plot data dvc plots renders
shards.json                            every shard's key and files' sha256, for the next run (publish.reuse)
provenance.json                        toolkit version, code hash and settings of this stage and those before it
```
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet.core import provenance, schema
from broadsheet.core.files import MARKER, Owner, keep, previous_bytes, write_hashed, write_json
from broadsheet.core.params import SPLITS, PublishParams
from broadsheet.core.shards import PARQUET_OPTIONS, ShardWriter, parquet_writer, read_parquet
from broadsheet.publish import manifest, reuse

DATASET_DICT = "dataset_dict.json"
STATE = "state.json"
DATASET_INFO = "dataset_info.json"
EXPORT = "data"
MANIFEST = "manifest"
CARD = "README.md"
CROISSANT = "croissant.json"
METRICS = "metrics.json"
PLOTS = "plots"
HUB_PARQUET = {"use_content_defined_chunking": True}
"""How the Hub export differs from our other Parquet files: data pages cut where the content says (pyarrow's
CDC), so that an edit or an appended row moves few page boundaries and Xet-style storage deduplicates the rest."""
OUTCOMES = "outcomes.parquet"
TAKEDOWNS = "takedowns.parquet"
INDEX = "shards.json"
"""The key and the files' sha256 of every shard, for reuse by the next run (``reuse``)."""
OWNER = Owner(
    "publish",
    schema.tag("document"),
    signature=DATASET_DICT,
    names=frozenset(
        {DATASET_DICT, *SPLITS, EXPORT, MANIFEST, OUTCOMES, TAKEDOWNS, CARD, CROISSANT, METRICS, PLOTS, INDEX}
        | {provenance.FILE, MARKER}
    ),
)


def export_pattern(split: str) -> str:
    """The Hub's data_files pattern of a split's Parquet files, relative to the folder."""
    return f"{EXPORT}/{split}-*.parquet"


def arrow_files(folder: Path, split: str) -> list[Path]:
    return sorted((folder / split).glob("data-*.arrow"))


def parquet_files(folder: Path, split: str) -> list[Path]:
    return sorted(folder.glob(export_pattern(split)))


def manifest_files(folder: Path) -> list[Path]:
    return sorted((folder / MANIFEST).glob("part-*.parquet"))


def read_manifest(folder: Path) -> pa.Table:
    """The manifest of a published folder, whole (a few dozen bytes a document)."""
    return pa.concat_tables([read_parquet(p) for p in manifest_files(folder)]).replace_schema_metadata(None)


def read_arrow(path: Path, mapped: bool = True) -> pa.Table:
    """An Arrow shard, memory-mapped (as ``datasets`` reads it), or read into memory (``mapped=False``: what a
    check of every shard in turn holds is then one shard, not the pages of all it has touched)."""
    with pa.memory_map(str(path)) if mapped else pa.OSFile(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def first_record(folder: Path) -> dict | None:
    """The first record in source order of the first non-empty split: the card's example."""
    for split in SPLITS:
        files = arrow_files(folder, split)
        table = read_arrow(files[0]) if files else None
        if table is not None and table.num_rows:
            return table.slice(0, 1).to_pylist()[0]
    return None


def hf_schema(doc: schema.Schema, features) -> pa.Schema:
    """The document schema with the ``huggingface`` metadata ``datasets`` reads its Features from."""
    hf = json.dumps({"info": {"features": features.to_dict()}}, sort_keys=True)
    return doc.arrow.with_metadata({**doc.arrow.metadata, b"huggingface": hf.encode()})


def shard_files(folder: Path, split: str, position: int, count: int) -> tuple[Path, Path]:
    """Shard ``position`` of the ``count`` of a split: its Arrow file and its Parquet copy."""
    name = f"{position:05d}-of-{count:05d}"
    return folder / split / f"data-{name}.arrow", folder / EXPORT / f"{split}-{name}.parquet"


class _SplitWriter:
    """Shard i of a split: ``folder/split/part-i.arrow`` for ``load_from_disk``, and the same rows as
    ``folder/data/{split}-part-i.parquet`` for the Hub's layout, both renamed once the count is known; taken from
    the previous output when it holds a shard of the same key."""

    def __init__(self, folder: Path, split: str, arrow_schema: pa.Schema, previous: reuse.Previous, fingerprint: str):
        self.folder, self.split, self.arrow_schema = folder, split, arrow_schema
        self.previous, self.fingerprint = previous, fingerprint
        self.index: list[dict] = []
        """Per shard: its key and its files' sha256."""

    def parts(self, index: int) -> tuple[Path, Path]:
        return (
            self.folder / self.split / f"part-{index:05d}.arrow",
            self.folder / EXPORT / f"{self.split}-part-{index:05d}.parquet",
        )

    def __call__(self, table: pa.Table, index: int) -> Path:
        table = _compact(table).replace_schema_metadata(self.arrow_schema.metadata)
        arrow, parquet = self.parts(index)
        key = reuse.shard_key(self.fingerprint, table)
        files = self.previous.shards.get(key)
        if files is not None and _take(files, table, arrow, parquet):
            sha256 = files.sha256
        else:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, self.arrow_schema) as stream:
                # A stream with no batch loads as a column of zero chunks, which ``datasets`` cannot cast.
                stream.write_batch(
                    table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], self.arrow_schema)
                )
            export = pa.BufferOutputStream()
            # Content-defined pages: a new version shares most of its bytes with the last (the Hub stores chunks once).
            pq.write_table(table, export, **PARQUET_OPTIONS, **HUB_PARQUET)
            sha256 = (write_hashed(arrow, sink.getvalue()), write_hashed(parquet, export.getvalue()))
        self.index.append({"key": key, "arrow_sha256": sha256[0], "parquet_sha256": sha256[1]})
        return arrow


def _take(files: reuse.Files, rows: pa.Table, arrow: Path, parquet: Path) -> bool:
    """Put a previous shard's two files at ``arrow`` and ``parquet`` if they are what its index says and hold
    ``rows``; else leave nothing there."""
    try:
        if files.hold(rows):
            keep(files.arrow, arrow)
            keep(files.parquet, parquet)
            return True
    except OSError:  # there a moment ago
        pass
    arrow.unlink(missing_ok=True)
    parquet.unlink(missing_ok=True)
    return False


def _compact(table: pa.Table) -> pa.Table:
    """The table in buffers of its own, exactly sized: an Arrow file's bytes are then those of its rows alone,
    whatever batches they were cut from (a slice writes its parent's validity bytes)."""
    columns = [pa.concat_arrays(c.chunks) if c.num_chunks else pa.array([], c.type) for c in table.columns]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _finish_split(folder: Path, split: str, writer: ShardWriter):
    """Close the split's shards (one empty shard for an empty split: ``datasets`` cannot load zero files), name them
    ``data-0000i-of-0000N.arrow`` and ``data/{split}-0000i-of-0000N.parquet``; return the Arrow files and row counts."""
    parts, lengths = writer.close(), writer.lengths
    if not parts:
        parts, lengths = [writer.write(writer.write.arrow_schema.empty_table(), 0)], [0]
    final = []
    for i, part in enumerate(parts):
        arrow, parquet = shard_files(folder, split, i, len(parts))
        final.append(part.rename(arrow))
        writer.write.parts(i)[1].rename(parquet)
    return final, lengths


def _state(split: str, files: list[Path], sha256s: list[str]) -> dict:
    digest = hashlib.sha256("".join(sha256s).encode()).hexdigest()
    return {
        "_data_files": [{"filename": p.name} for p in files],
        "_fingerprint": digest[:16],
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": split,
    }


def _split_info(name: str, files: list[Path], lengths: list[int]):
    from datasets import SplitInfo

    return SplitInfo(
        name=name, num_bytes=sum(p.stat().st_size for p in files), num_examples=sum(lengths), shard_lengths=lengths
    )


class Writers:
    """The content-defined shard writers of the three splits and of the manifest."""

    def __init__(
        self, folder: Path, params: PublishParams, arrow_schema: pa.Schema, previous: reuse.Previous, fingerprint: str
    ):
        doc = schema.document()
        self.folder, self.fingerprint = folder, fingerprint
        (folder / EXPORT).mkdir()
        self.splits = {}
        for split in SPLITS:
            (folder / split).mkdir()
            write = _SplitWriter(folder, split, arrow_schema, previous, fingerprint)
            self.splits[split] = ShardWriter(doc, params.shard_rows, write)
        (folder / MANIFEST).mkdir()
        document_schema = {"broadsheet.document_schema": doc.arrow.metadata[b"broadsheet.schema"].decode()}
        self.manifest = ShardWriter(
            schema.manifest(),
            params.shard_rows * manifest.SHARD_FACTOR,
            parquet_writer(folder / MANIFEST, document_schema),
        )

    def add(self, batch: pa.RecordBatch, assigned: pa.Array, known: pa.Array) -> None:
        """Records, their splits, and their content hashes where already known (null elsewhere)."""
        self.manifest.add(manifest.batch(batch, assigned, known))
        for split, writer in self.splits.items():
            part = batch.filter(pc.equal(assigned, split))
            if part.num_rows:
                writer.add(part)

    def close(self):
        """Finish every shard, write each split's state.json and the index; return the SplitDict and the sha256 of
        each split's Parquet files."""
        from datasets import SplitDict

        if not self.manifest.close():  # an empty corpus still has a manifest to diff against
            self.manifest.write(schema.manifest().arrow.empty_table(), 0)
        split_dict, exports, index = SplitDict(), {}, {}
        for split, writer in self.splits.items():
            files, lengths = _finish_split(self.folder, split, writer)
            split_dict.add(_split_info(split, files, lengths))
            shards = index[split] = writer.write.index
            write_json(self.folder / split / STATE, _state(split, files, [s["arrow_sha256"] for s in shards]))
            exports[split] = [s["parquet_sha256"] for s in shards]
        write_json(self.folder / INDEX, {"fingerprint": self.fingerprint, "splits": index})
        return split_dict, exports


def previous(folder: Path, fingerprint: str) -> reuse.Previous:
    """What the published ``folder`` of an earlier run holds for this one (``reuse``)."""
    index = None
    if OWNER.wrote(folder):
        try:
            index = json.loads(previous_bytes(folder / INDEX) or b"")
        except ValueError:
            pass
    return reuse.Previous(index, partial(shard_files, folder), partial(_previous_manifest, folder), fingerprint)


def _previous_manifest(folder: Path) -> pa.Table:
    """The manifest of a previous output, from regular files only (ValueError otherwise: nothing is reused)."""
    tables = []
    for path in manifest_files(folder):
        if (data := previous_bytes(path)) is None:
            raise ValueError(f"{path} is not a regular file")
        tables.append(read_parquet(pa.BufferReader(data)))
    return pa.concat_tables(tables).replace_schema_metadata(None)
