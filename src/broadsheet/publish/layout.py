"""The published folder's format, owned here: every file name in it, the task that writes a shard, and reading it.

```
dataset_dict.json                      the save_to_disk layout of a DatasetDict (load_from_disk)
{split}/data-<key>.arrow               content-defined Arrow shards of each split, named by their keys
{split}/state.json, dataset_info.json  what datasets reads beside them: the shards in order, a fingerprint
data/{split}-<key>.parquet             the same rows, in the Hub's layout (load_dataset, pandas, polars, duckdb)
manifest/part-<sha256>.parquet         per document: id, split, hashes (schemas/manifest; what diff compares)
outcomes.parquet                       every input that is no published document, and why (schemas/outcome)
takedowns.parquet                      the documents taken down: id, reason, date (schemas/takedown; no text)
README.md                              the dataset card (its configs list each split's Parquet files in order)
croissant.json                         MLCommons Croissant description of the Parquet export
metrics.json                           the accounting and corpus statistics
plots/                                 the plot data dvc plots renders
shards.json                            every shard's key and files' sha256, for the next run (publish.reuse)
provenance.json                        toolkit version, code hash and settings of this stage and those before it
```
A shard's files are named by its key (128 of its bits), the manifest's by their sha256: a name says what the
file holds, not where it is, so a shard added before it leaves it its name, and DVC's state (which knows a file
by its path) its hash. The order is the one ``state.json``, the card and the index list.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet.core import provenance, schema
from broadsheet.core.columns import compact
from broadsheet.core.errors import BroadsheetError, first_line
from broadsheet.core.files import (
    MARKER,
    Owner,
    keep,
    previous_bytes,
    read_json,
    write_hashed,
    write_json,
    write_or_keep,
)
from broadsheet.core.params import SPLITS
from broadsheet.core.shards import PARQUET_OPTIONS, spans
from broadsheet.publish import manifest, plan, reuse, sources

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


ARROW_FILE = re.compile("data-[0-9a-z-]+\\.arrow")
"""What state.json may name: a file of the split's own folder (data-<key>.arrow; data-00012-of-00159.arrow in
folders of earlier versions)."""


def shard_files(folder: Path, split: str, key: str) -> tuple[Path, Path]:
    """The shard of key ``key`` (``reuse.shard_key``) of a split: its Arrow file and its Parquet copy."""
    return folder / split / f"data-{key[:32]}.arrow", folder / EXPORT / f"{split}-{key[:32]}.parquet"


def manifest_file(folder: Path, sha256: str) -> Path:
    return folder / MANIFEST / f"part-{sha256[:32]}.parquet"


def arrow_files(folder: Path, split: str) -> list[Path]:
    """A split's Arrow files in order: those its state.json names (what ``load_from_disk`` opens), each one of
    the split's own."""
    try:
        named = [entry["filename"] for entry in read_json(folder / split / STATE)["_data_files"]]
    except (KeyError, TypeError) as e:
        raise BroadsheetError(f"{folder / split / STATE} lists no data files ({type(e).__name__}: {e})") from None
    if not all(isinstance(name, str) and ARROW_FILE.fullmatch(name) for name in named):
        raise BroadsheetError(f"{folder / split / STATE} names files that are not Arrow shards of {split}")
    return [folder / split / name for name in named]


def data_files(folder: Path) -> dict[str, list[str]]:
    """Each split's Parquet copies of its shards, in order, relative to the folder (the card's data files)."""
    found = {}
    for split in SPLITS:
        stems = (path.stem.removeprefix("data-") for path in arrow_files(folder, split))
        found[split] = [shard_files(folder, split, stem)[1].relative_to(folder).as_posix() for stem in stems]
    return found


def hub_data_files(data_files: dict[str, list[str]], rows: dict[str, int]) -> list[dict]:
    """The ``data_files`` of the card's config: each split that has ``rows``, with its files (``data_files``)."""
    return [{"split": split, "path": data_files[split]} for split in SPLITS if rows[split]]


def manifest_files(folder: Path) -> list[Path]:
    return sorted((folder / MANIFEST).glob("part-*.parquet"))


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


@dataclass(frozen=True)
class Encode:
    """A worker's task: one shard's Arrow file and Parquet copy, written from the normalized records it names, and
    the content hashes of those of its rows no previous output holds."""

    segments: list[tuple[str, pa.Array]]
    """Where its rows are: (normalized shard, positions in it), in order."""
    planned: str
    """``plan.digest`` of the rows planned: a normalize output replaced since is an error, not other rows."""
    unhashed: pa.Array
    """The positions, in this shard, of the rows to hash."""
    arrow_schema: pa.Schema
    files: tuple[Path, Path]
    source: Callable[[str, pa.Array], pa.RecordBatch] = sources.rows
    """Reads (normalized shard, positions): ``sources.Shared.rows`` for tasks on threads of the planning process."""

    def __call__(self) -> tuple[tuple[str, str], pa.StringArray]:
        """The sha256 of the two files, and the content hashes of the ``unhashed`` rows."""
        pieces = []
        for path, rows in self.segments:
            try:
                piece = self.source(path, rows)
                piece.validate(full=True)  # UTF-8 and offsets: the hashes below read the bytes as they are
            except BroadsheetError:
                raise  # the reader's own line: the file and what is wrong with it
            except (OSError, pa.ArrowException) as e:
                raise _changed(path, first_line(e)) from None
            pieces.append(piece)
        table = compact(pa.Table.from_batches(pieces, schema=schema.document().arrow))
        if plan.digest(table.flatten()) != self.planned:
            raise _changed(self.segments[0][0] if len(self.segments) == 1 else Path(self.segments[0][0]).parent)
        table = table.replace_schema_metadata(self.arrow_schema.metadata)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.arrow_schema) as stream:
            # A stream with no batch loads as a column of zero chunks, which ``datasets`` cannot cast.
            stream.write_batch(
                table.to_batches()[0] if table.num_rows else pa.RecordBatch.from_pylist([], self.arrow_schema)
            )
        export = pa.BufferOutputStream()
        # Content-defined pages: a new version shares most of its bytes with the last (the Hub stores chunks once).
        pq.write_table(table, export, **PARQUET_OPTIONS, **HUB_PARQUET)
        sha256 = (write_hashed(self.files[0], sink.getvalue()), write_hashed(self.files[1], export.getvalue()))
        return sha256, manifest.content_hashes(
            table if len(self.unhashed) == table.num_rows else table.take(self.unhashed)
        )


def _changed(where, why: str = "") -> BroadsheetError:
    cause = f" ({why})" if why else ""
    return BroadsheetError(
        f"{where} is not what publish planned from{cause}: it changed while publish ran; run it again"
    )


def run(task):
    """Run a task (in a worker)."""
    return task()


def take(files: reuse.Files, rows: pa.Table, arrow: Path, parquet: Path) -> bool:
    """Put a previous shard's two files at ``arrow`` and ``parquet`` if they are what its index says and hold
    ``rows``; else leave nothing there."""
    try:
        if not files.hold(rows):
            return False
        keep(files.arrow, arrow)
    except OSError:  # there a moment ago (``keep`` leaves nothing at ``arrow`` then)
        return False
    try:
        keep(files.parquet, parquet)
    except OSError:
        arrow.unlink()
        return False
    return True


def make_dirs(folder: Path) -> None:
    for name in (*SPLITS, EXPORT, MANIFEST):
        (folder / name).mkdir()


def write_split(folder: Path, split: str, index: list[dict], lengths: list[int]):
    """A split's state.json, once its shards are written (``index``: their keys and sha256); its SplitInfo."""
    from datasets import SplitInfo

    files = [shard_files(folder, split, shard["key"])[0] for shard in index]
    state = {
        "_data_files": [{"filename": p.name} for p in files],
        "_fingerprint": split_fingerprint([s["arrow_sha256"] for s in index]),
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": split,
    }
    write_json(folder / split / STATE, state)
    num_bytes = sum(p.stat().st_size for p in files)
    return SplitInfo(name=split, num_bytes=num_bytes, num_examples=sum(lengths), shard_lengths=lengths)


def split_fingerprint(arrow_sha256: list[str]) -> str:
    """A split's ``_fingerprint`` in its state.json: of its Arrow files' sha256, in order."""
    return hashlib.sha256("".join(arrow_sha256).encode()).hexdigest()[:16]


def write_index(folder: Path, fingerprint: str, index: dict[str, list[dict]], manifest_sha256: list[str]) -> None:
    write_json(folder / INDEX, {"fingerprint": fingerprint, "splits": index, "manifest": manifest_sha256})


def write_manifest(folder: Path, rows: pa.Table, shard_rows: int, previous: dict[str, Path]) -> list[str]:
    """The manifest of the records published (``rows``, in source order), in content-defined shards (an empty
    corpus too has one, to diff against), each kept from the ``previous`` file of its sha256 if there is one;
    the sha256 of each."""
    schema.manifest().check(rows)
    document = schema.document().arrow.metadata[b"broadsheet.schema"]
    rows = rows.replace_schema_metadata({**rows.schema.metadata, b"broadsheet.document_schema": document})
    cuts = spans(rows.column("id").to_pylist(), shard_rows * manifest.SHARD_FACTOR) or [range(0)]
    sha256 = []
    for cut in cuts:
        sink = pa.BufferOutputStream()
        pq.write_table(rows.slice(cut.start, len(cut)), sink, **PARQUET_OPTIONS)
        data = sink.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        sha256.append(write_or_keep(manifest_file(folder, digest), data, digest, previous.get(digest)))
    return sha256


def previous(folder: Path, fingerprint: str) -> reuse.Previous:
    """What the published ``folder`` of an earlier run holds for this one (``reuse``)."""
    index = None
    if OWNER.wrote(folder):
        try:
            index = json.loads(previous_bytes(folder / INDEX) or b"")
        except (ValueError, RecursionError):
            pass
    return reuse.Previous(index, partial(shard_files, folder), partial(manifest_file, folder), fingerprint)
