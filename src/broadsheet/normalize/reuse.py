"""Incremental normalisation: reuse the shards of the previous output whose inputs did not change.

A shard's key is a hash of the normaliser's fingerprint (the code and schemas
the normalize stage depends on, the libraries that shape the text, the params) and of each of its
sources (path, id, ordinal, sha256 of the raw bytes). The normalize output keeps
an index (``shards.json``) of every shard's key, file, checksum and what was
turned away; a shard whose key is in the previous output's index is copied from
it, not normalised again. A shard is a pure function of its key, so the output
is byte for byte the one a fresh run gives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import unicodedata
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from broadsheet.core import provenance
from broadsheet.normalize.folder import INDEX

_LIBRARIES = ("pyarrow", "pycld2", "ftfy", "charset-normalizer")


def fingerprint(*settings) -> str:
    """What, besides its sources, decides a shard's bytes: code, libraries, Unicode data, ``settings`` (dataclasses)."""
    digest = hashlib.sha256(provenance.code_sha256("normalize").encode())
    versions = {name: metadata.version(name) for name in _LIBRARIES}
    environment = {"python": sys.version_info[:2], "unicode": unicodedata.unidata_version, "libraries": versions}
    digest.update(json.dumps(environment, sort_keys=True).encode())
    for setting in settings:
        digest.update(json.dumps(dataclasses.asdict(setting), sort_keys=True, default=list).encode())
    return digest.hexdigest()


def shard_key(fingerprint: str, sources: list, contents: list[str]) -> str:
    """The key of a shard: the fingerprint and, for each source, its identity and its content (the sha256 of
    its bytes, or why they were not had)."""
    digest = hashlib.sha256(fingerprint.encode())
    for source, content in zip(sources, contents):
        digest.update(
            f"{source.relpath}\0{source.id}\0{source.ordinal}\0{content}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One shard of a previous output, as its index describes it."""

    folder: Path
    file: str | None
    sha256: str | None
    record: dict
    """The index row itself: key, rows, rejected, filtered, counts."""

    def parquet(self) -> bytes | None:
        """The shard's bytes, if its file is still what the index says; None otherwise (normalise it again)."""
        if self.file is None:
            return b""
        try:
            data = (self.folder / self.file).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == self.sha256 else None


def previous(folder: Path) -> dict[str, Entry]:
    """Key -> Entry of every shard in the index of the normalize output ``folder``; empty when there is none."""
    try:
        index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        return {row["key"]: Entry(folder, row["file"], row["sha256"], row) for row in index["shards"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
