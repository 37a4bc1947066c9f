"""The version manifest: per document, its id, split and hashes; what ``broadsheet diff`` compares."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import schema

SHARD_FACTOR = 20
"""Manifest rows are small: its content-defined shards target this many times the data's shard size."""
CONTENT_FIELDS = ("title", "dateline", "text", "related")
"""What a reader sees of a document: a change to any of them is a change between versions."""


def content_sha256(row: dict) -> str:
    """Hash of a document's CONTENT_FIELDS."""
    blob = json.dumps([row[f] for f in CONTENT_FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def batch(records: pa.RecordBatch, assigned: pa.Array) -> pa.RecordBatch:
    """The manifest rows of a batch of records, ``assigned`` being each record's split."""
    source = records.column("source")
    content = records.select(list(CONTENT_FIELDS)).to_pylist()
    columns = {
        "id": records.column("id"),
        "split": assigned,
        "text_sha256": records.column("text_sha256"),
        "content_sha256": pa.array([content_sha256(row) for row in content], pa.string()),
        "path": pc.struct_field(source, "path"),
        "raw_sha256": pc.struct_field(source, "raw_sha256"),
    }
    target = schema.manifest().arrow
    return pa.RecordBatch.from_arrays([columns[name] for name in target.names], schema=target)
