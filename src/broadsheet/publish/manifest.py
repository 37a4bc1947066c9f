"""The version manifest: per document, its id, split and hashes; what ``broadsheet diff`` compares."""

from __future__ import annotations

import binascii
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import columns, schema
from broadsheet.core.params import SPLITS

DIGEST_BYTES = hashlib.sha256().digest_size
SHARD_FACTOR = 20
"""Manifest rows are small: its content-defined shards target this many times the data's shard size."""
CONTENT_FIELDS = ("title", "dateline", "text", "related")
"""What a reader sees of a document: a change to any of them is a change between versions."""
ADDED_FIELDS = ("url", "date")
"""Content fields a later schema version added (document.v2): hashed only when not null, so that a document's
hash is the same whichever schema version holds it, and upgrading the schema alone changes no document."""


def content_sha256(row: dict) -> str:
    """Hash of a document's CONTENT_FIELDS and its ADDED_FIELDS that are not null: sha256 of this JSON."""
    added = {f: row[f] for f in ADDED_FIELDS if row.get(f) is not None}
    content = [row[f] for f in CONTENT_FIELDS] + ([added] if added else [])
    blob = json.dumps(content, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_CONTROLS = bytes(c for c in range(0x20) if c != ord("\n"))
_KEYS = {f: json.dumps(f).encode() + b":" for f in sorted(ADDED_FIELDS)}


def _json(value: bytes | None) -> bytes:
    """A UTF-8 string as ``json.dumps(ensure_ascii=False)`` writes it. Replacing bytes is exact: every byte of a
    multi-byte UTF-8 sequence is >= 0x80, so none is a quote, a backslash or a control character."""
    if value is None:
        return b"null"
    if len(value.translate(None, _CONTROLS)) != len(value):  # rare: json.dumps knows every escape
        return json.dumps(value.decode("utf-8"), ensure_ascii=False).encode("utf-8")
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n") + b'"'


def content_hashes(records: pa.RecordBatch | pa.Table) -> pa.StringArray:
    """``content_sha256`` of every row, byte for byte, written from the UTF-8 bytes Arrow holds: no Python string
    is made, and a text is scanned a few times in C rather than escaped character by character. The hashes are
    one array, not a Python string each (a million of those are over 100 MB)."""

    def column(name: str) -> list:
        return records.column(name).cast(pa.binary()).to_pylist()

    title, dateline, text = column("title"), column("dateline"), column("text")
    added = [(_KEYS[f], column(f)) for f in _KEYS]
    related = records.column("related")
    items = pc.list_flatten(related).cast(pa.binary()).to_pylist()
    lengths = pc.list_value_length(related).to_pylist()
    digests, start = [], 0
    for i, count in enumerate(lengths):
        parts = [b"[", _json(title[i]), b",", _json(dateline[i]), b",", _json(text[i]), b",["]
        parts += [b",".join(_json(item) for item in items[start : start + count]), b"]"]
        start += count
        if present := [key + _json(values[i]) for key, values in added if values[i] is not None]:
            parts += [b",{", b",".join(present), b"}"]
        parts.append(b"]")
        digests.append(hashlib.sha256(b"".join(parts)).digest())
    return hex_strings(b"".join(digests))


def hex_strings(digests: bytes) -> pa.StringArray:
    """sha256 digests, back to back, as an array of their lowercase hex (what ``hexdigest`` gives)."""
    count = len(digests) // DIGEST_BYTES
    offsets = np.arange(0, 2 * DIGEST_BYTES * (count + 1), 2 * DIGEST_BYTES, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(binascii.hexlify(digests)))


def rows(records: pa.Table, content: pa.Array) -> pa.Table:
    """The manifest rows of ``records`` (columns ``id``, ``split``, ``text_sha256``, ``source.path`` and
    ``source.raw_sha256``), ``content`` being their content hashes."""
    by_name = {
        "id": records.column("id"),
        "split": records.column("split"),
        "text_sha256": records.column("text_sha256"),
        "content_sha256": content,
        "path": records.column("source.path"),
        "raw_sha256": records.column("source.raw_sha256"),
    }
    target = schema.manifest().arrow
    return pa.Table.from_arrays([by_name[name] for name in target.names], schema=target)


FINGERPRINT_BATCH_ROWS = 1 << 16


def fingerprint(pairs: pa.Table) -> str:
    """The corpus fingerprint of a table of (id, text_sha256) rows: one hash of them sorted, whatever the shards,
    engine or worker count that produced them. Equal fingerprints, equal document sets and texts."""
    return _hashed(_sorted(pairs.select(["id", "text_sha256"])))


def fingerprints(manifest: pa.Table) -> dict[str, str]:
    """The fingerprint of the whole corpus (``all``) and of each split, from its manifest (sorted once)."""
    ordered = _sorted(manifest.select(["id", "text_sha256", "split"]))
    found = {"all": _hashed(ordered)}
    for split in SPLITS:
        found[split] = _hashed(ordered.filter(pc.equal(ordered.column("split"), split)))
    return found


def _sorted(rows: pa.Table) -> pa.Table:
    return rows.sort_by([("id", "ascending"), ("text_sha256", "ascending")])  # Arrow sorts UTF-8 as code points


def _hashed(ordered: pa.Table) -> str:
    digest = hashlib.sha256()
    for batch in ordered.select(["id", "text_sha256"]).to_batches(max_chunksize=FINGERPRINT_BATCH_ROWS):
        digest.update(columns.lines(batch.columns, "\t"))  # "{id}\t{text_sha256}\n" a row
    return "sha256:" + digest.hexdigest()
