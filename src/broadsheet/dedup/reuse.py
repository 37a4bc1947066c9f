"""Incremental dedup: what the previous output computed that this run needs again.

Two things cost the time, and both are pure functions of texts and settings:
- the LSH band keys of a normalize shard's rows, kept per shard in ``keys/`` by text hash; a shard whose
  ``text_sha256`` column has the same digest takes its file, its texts are not read, and a row of a changed
  shard takes its text's keys from a file no unchanged shard took;
- the exact Jaccard similarity of a pair of texts, kept in ``pairs.parquet`` by the two texts' hashes.
``reuse.json`` gives the fingerprint of the code and settings that made them and every file's sha256: only
a file of that sha256, made with this run's fingerprint, is taken.
What a run writes is what it needed, whether computed or taken, so the output is byte for byte the one a fresh
run gives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa

from broadsheet.core import provenance
from broadsheet.core.files import previous_bytes
from broadsheet.core.params import DedupParams
from broadsheet.core.state import SHA256
from broadsheet.dedup import folder as layout

LIBRARIES = ("numba", "numpy", "pyarrow")
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


@dataclass(frozen=True)
class KeyFile:
    """A key file of the previous output, with the sha256 its index gives it."""

    path: Path
    sha256: str

    def read(self) -> bytes | None:
        """Its bytes, if they are still what the index says."""
        return previous_bytes(self.path, self.sha256)


class Previous:
    """What the dedup output ``folder`` of an earlier run holds for this one (its ``reuse.json``); nothing if it is
    none, was made with another fingerprint, or cannot be read. Only files whose sha256 the index gives are taken."""

    def __init__(self, folder: str | Path | None = None, fingerprint: str = ""):
        self.fingerprint = fingerprint
        """This run's: what its own index says its files were made with."""
        self.keys: dict[str, KeyFile] = {}
        """Texts digest -> the key file of a shard with those texts."""
        self.key_files: list[KeyFile] = []
        self.similarities: dict[tuple[str, str], float] = {}
        """(text hash, text hash), in order -> their Jaccard similarity."""
        if folder is None or not layout.OWNER.wrote(Path(folder)):
            return
        folder = Path(folder)
        try:
            index = json.loads(previous_bytes(folder / layout.INDEX) or b"")
            if index["settings"] != fingerprint:
                return
            for entry in index["keys"]:
                if not layout.KEY_FILE.fullmatch(entry["file"]) or not SHA256.fullmatch(entry["sha256"]):
                    raise ValueError(f"not a key file of the folder: {entry['file']!r}")
                found = KeyFile(folder / entry["file"], entry["sha256"])
                self.keys.setdefault(entry["texts"], found)
                self.key_files.append(found)
            pairs = KeyFile(folder / layout.PAIRS, index["pairs"]).read()
        except (ValueError, KeyError, TypeError):
            self.keys, self.key_files = {}, []
            return
        self.similarities = layout.read_pairs(pairs) if pairs is not None else {}
