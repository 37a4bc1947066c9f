"""Incremental dedup: what the previous output computed that this run needs again.

Two things cost the time, and both are pure functions of texts and settings:
- the LSH band keys of a normalize shard's rows, kept per shard in ``keys/`` with the digest of the shard's
  ``text_sha256`` column and the fingerprint of the code and settings that made them; a shard of the same digest
  takes them from there, its texts are not read;
- the exact Jaccard similarity of a pair of texts, kept in ``pairs.parquet`` by the two texts' hashes.
What a run writes is what it needed, whether computed or taken, so the output is byte for byte the one a fresh
run gives.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pyarrow as pa

from broadsheet.core import provenance
from broadsheet.core.params import DedupParams
from broadsheet.core.shards import read_parquet
from broadsheet.dedup import folder as layout


LIBRARIES = ("numpy", "pyarrow")
"""The distributions whose versions can change a band key (tests/test_stage_deps.py holds them to the imports)."""


def fingerprint(params: DedupParams) -> str:
    """What, besides the texts, decides band keys and similarities: the code, libraries, and MinHash settings."""
    settings = {name: getattr(params, name) for name in ("ngram", "num_perm", "seed", "bands", "rows")}
    libraries = {name: metadata.version(name) for name in LIBRARIES}
    described = {"code": provenance.code_sha256("dedup"), **libraries, **settings}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def texts_digest(hashes: pa.Array) -> str:
    """The digest of a shard's texts, in row order: of their sha256s."""
    return hashlib.sha256("\n".join(hashes.to_pylist()).encode()).hexdigest()


class Previous:
    """What the dedup output ``folder`` of an earlier run holds for this one; nothing if it is none, was made
    with another fingerprint, or cannot be read."""

    def __init__(self, folder: str | Path | None, fingerprint: str):
        self.keys: dict[str, Path] = {}
        """Texts digest -> the key file of a shard with those texts."""
        self.key_files: list[Path] = []
        """Every key file made with this fingerprint."""
        self.similarities: dict[tuple[str, str], float] = {}
        """(text hash, text hash), in order -> their Jaccard similarity."""
        if folder is None or not layout.OWNER.wrote(Path(folder)):
            return
        for path in layout.key_files(Path(folder)):
            try:
                found = layout.key_file_metadata(path)
            except (OSError, pa.ArrowException):
                continue
            if found.get("settings") == fingerprint:
                self.keys.setdefault(found["texts"], path)
                self.key_files.append(path)
        self.similarities = _similarities(Path(folder) / layout.PAIRS, fingerprint)


def _similarities(path: Path, fingerprint: str) -> dict[tuple[str, str], float]:
    try:
        table = read_parquet(path)
    except (OSError, pa.ArrowException):
        return {}
    if not table.schema.equals(layout.PAIRS_SCHEMA) or layout.settings_of(table.schema) != fingerprint:
        return {}
    columns = table.to_pydict()
    return dict(zip(zip(columns["a"], columns["b"]), columns["similarity"]))
