"""The version manifest: per document, its id, split and hashes; what ``broadsheet diff`` compares."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import schema
from broadsheet.core.params import SPLITS

SHARD_FACTOR = 20
"""Manifest rows are small: its content-defined shards target this many times the data's shard size."""
CONTENT_FIELDS = ("title", "dateline", "text", "related")
"""What a reader sees of a document: a change to any of them is a change between versions."""
ADDED_FIELDS = ("url", "date")
"""Content fields a later schema version added (document.v2): hashed only when not null, so that a document's
hash is the same whichever schema version holds it, and upgrading the schema alone changes no document."""


def content_sha256(row: dict) -> str:
    """Hash of a document's CONTENT_FIELDS and its ADDED_FIELDS that are not null."""
    added = {f: row[f] for f in ADDED_FIELDS if row.get(f) is not None}
    content = [row[f] for f in CONTENT_FIELDS] + ([added] if added else [])
    blob = json.dumps(content, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def batch(records: pa.RecordBatch, assigned: pa.Array, known: pa.Array) -> pa.RecordBatch:
    """The manifest rows of a batch of records, ``assigned`` being each record's split and ``known`` the content
    hashes already known (null where not: those are computed)."""
    source = records.column("source")
    hashes = known.to_pylist()
    if missing := [i for i, known_hash in enumerate(hashes) if known_hash is None]:
        content = records.select(list(CONTENT_FIELDS + ADDED_FIELDS)).take(pa.array(missing)).to_pylist()
        for i, row in zip(missing, content):
            hashes[i] = content_sha256(row)
    columns = {
        "id": records.column("id"),
        "split": assigned,
        "text_sha256": records.column("text_sha256"),
        "content_sha256": pa.array(hashes, pa.string()),
        "path": pc.struct_field(source, "path"),
        "raw_sha256": pc.struct_field(source, "raw_sha256"),
    }
    target = schema.manifest().arrow
    return pa.RecordBatch.from_arrays([columns[name] for name in target.names], schema=target)


FINGERPRINT_BATCH_ROWS = 1 << 16


def fingerprint(pairs: pa.Table) -> str:
    """The corpus fingerprint of a table of (id, text_sha256) rows: one hash of them sorted, whatever the shards,
    engine or worker count that produced them. Equal fingerprints, equal document sets and texts."""
    digest = hashlib.sha256()
    ordered = pairs.select(["id", "text_sha256"]).sort_by([("id", "ascending"), ("text_sha256", "ascending")])
    for batch in ordered.to_batches(max_chunksize=FINGERPRINT_BATCH_ROWS):  # Arrow sorts UTF-8 as code points
        ids, digests = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        digest.update("".join(f"{doc_id}\t{text}\n" for doc_id, text in zip(ids, digests)).encode())
    return "sha256:" + digest.hexdigest()


def fingerprints(manifest: pa.Table) -> dict[str, str]:
    """The fingerprint of the whole corpus (``all``) and of each split, from its manifest."""
    found = {"all": fingerprint(manifest)}
    for split in SPLITS:
        found[split] = fingerprint(manifest.filter(pc.equal(manifest.column("split"), split)))
    return found
