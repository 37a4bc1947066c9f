"""Incremental publish: the shards of the previous output whose rows did not change, and its content hashes.

A normalised record is a pure function of the normaliser's fingerprint and of its source's path, id and raw
bytes (``normalize.reuse``). So a published shard's key is a hash of this stage's fingerprint (its code, pyarrow,
datasets, and the normaliser's fingerprint) and of each row's id, path and raw sha256. The output's index
(``shards.json``) lists every shard's key and the sha256 of its two files; a shard whose key the previous output
lists takes that shard's files, checked, rather than being encoded again. A row the previous manifest holds
(same id, path and raw sha256) takes its content hash from there. The output is byte for byte a fresh run's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import columns, provenance
from broadsheet.core.files import known_sha256, previous_bytes, previous_file
from broadsheet.core.params import SPLITS
from broadsheet.core.shards import read_parquet
from broadsheet.core.state import SHA256


def fingerprint(normalizer: str) -> str:
    """What, besides its rows, decides a shard's bytes: this stage's code and libraries, and ``normalizer`` (the
    fingerprint of the normalize output it reads)."""
    libraries = {name: metadata.version(name) for name in ("pyarrow", "datasets")}
    described = {"code": provenance.code_sha256("publish"), "libraries": libraries, "normalizer": normalizer}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def shard_key(fingerprint: str, rows: pa.Table) -> str:
    """The key of a shard: sha256 of the fingerprint and of a line ``id\0path\0raw sha256\n`` a row (``rows``:
    columns ``id``, ``source.path`` and ``source.raw_sha256``)."""
    return columns.digest([rows.column(name) for name in ("id", "source.path", "source.raw_sha256")], fingerprint)


@dataclass(frozen=True)
class Files:
    """A shard's two files in a previous output, with the sha256 its index gives them."""

    arrow: Path
    parquet: Path
    sha256: tuple[str, str]

    def hold(self, rows: pa.Table) -> bool:
        """Both files are still the bytes the index says (as ``core.state`` knows them, else hashed), and the
        Parquet copy holds the ids of ``rows`` in order (so an index whose keys were swapped gives nothing).

        Only the Parquet file's id column is read: the Arrow file was written from the same rows, and reading
        either whole would make a run read every kept byte of the corpus.
        """
        with previous_file(self.arrow) as arrow, previous_file(self.parquet) as parquet:
            if arrow is None or parquet is None:
                return False
            if known_sha256(arrow) != self.sha256[0] or known_sha256(parquet) != self.sha256[1]:
                return False
            parquet.seek(0)
            try:
                return read_parquet(parquet, columns=["id"]).column("id").equals(rows.column("id"))
            except (OSError, pa.ArrowException):
                return False


class Previous:
    """What the published folder of an earlier run holds for this one: nothing if it is none, was made with
    another fingerprint, or cannot be read."""

    def __init__(self, index: dict | None = None, files=None, manifest=None, fingerprint: str = ""):
        """``index``: its shards.json; ``files(split, key)``: a shard's two paths; ``manifest(sha256)``: the path
        of its manifest's file of that sha256 (the index lists them)."""
        self.shards: dict[str, Files] = {}
        self.manifest_files: dict[str, Path] = {}
        """sha256 -> a file of the previous manifest, checked: one of those bytes is kept from there."""
        self._manifest: pa.Table | None = None
        if not isinstance(index, dict) or index.get("fingerprint") != fingerprint:
            return
        try:
            for split in SPLITS:
                for row in index["splits"][split]:
                    hashes = (row["key"], row["arrow_sha256"], row["parquet_sha256"])
                    if not all(SHA256.fullmatch(h) for h in hashes):  # a key names files; a sha256 checks them
                        raise ValueError(f"not a shard key and files' sha256: {hashes!r}")
                    arrow, parquet = files(split, row["key"])
                    self.shards[row["key"]] = Files(arrow, parquet, (row["arrow_sha256"], row["parquet_sha256"]))
            self.manifest_files = {sha256: manifest(sha256) for sha256 in index["manifest"]}
            self._manifest = _manifest(self.manifest_files)
        except (OSError, AttributeError, KeyError, TypeError, ValueError, pa.ArrowException):
            self.shards, self.manifest_files, self._manifest = {}, {}, None

    def content_hashes(self, ids: pa.Array, paths: pa.Array, raws: pa.Array) -> pa.Array:
        """The content hash of each row the previous manifest holds with the same id, path and raw sha256; null
        for the others. Called once, for every row: the lookup table is built on each call."""
        if self._manifest is None:
            return pa.nulls(len(ids), pa.string())
        found = pc.index_in(raws, value_set=self._manifest.column("raw_sha256"))
        same = pc.and_(
            pc.equal(pc.take(self._manifest.column("id"), found), ids),
            pc.equal(pc.take(self._manifest.column("path"), found), paths),
        )
        hashes = pc.if_else(same, pc.take(self._manifest.column("content_sha256"), found), None)
        return hashes.combine_chunks() if isinstance(hashes, pa.ChunkedArray) else hashes


def _manifest(files: dict[str, Path]) -> pa.Table:
    """The rows of a previous manifest's ``files`` (sha256 -> path), each what the index says (ValueError
    otherwise: nothing is reused)."""
    tables = []
    for sha256, path in files.items():
        if not SHA256.fullmatch(sha256) or (data := previous_bytes(path, sha256)) is None:
            raise ValueError(f"manifest part {sha256!r} is not what the index says")
        tables.append(read_parquet(pa.BufferReader(data), columns=["id", "path", "raw_sha256", "content_sha256"]))
    return pa.concat_tables(tables).replace_schema_metadata(None).combine_chunks()
