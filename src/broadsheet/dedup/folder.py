"""The dedup output's format, owned here: the decisions table and its metrics, and the reading API.

```
duplicates.parquet   one row per member of a duplicate cluster (schemas/duplicate): cluster (the kept id),
                     id, path, kind (kept | exact | near), similarity to the kept document
metrics.json         documents, clusters, exact and near duplicates, candidate and verified pairs
provenance.json      toolkit version, code hash and settings of the run (core.provenance)
keys/part-<sha256>.parquet  the LSH band keys of every row of the normalize shard of that name, and whether it
                     has words
pairs.parquet        the Jaccard similarity of every pair of texts (by hash) this run compared
reuse.json           the settings they were made with, each key file's texts digest, and every file's sha256
```
``keys``, ``pairs.parquet`` and ``reuse.json`` are for the next run (``reuse``). Later stages read the folder
only through ``dropped`` and ``provenance``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet.core import provenance as _provenance
from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER, Owner, read_json, write_hashed, write_json
from broadsheet.core.shards import PARQUET_OPTIONS, read_parquet

DUPLICATES = "duplicates.parquet"
METRICS = "metrics.json"
KEYS = "keys"
PAIRS = "pairs.parquet"
PAIRS_SCHEMA = pa.schema([("a", pa.string(), False), ("b", pa.string(), False), ("similarity", pa.float64(), False)])
INDEX = "reuse.json"
DROP = {"none": set(), "exact": {"exact"}, "near": {"exact", "near"}}
"""What publish leaves out under each ``dedup.drop``: the kinds of cluster member."""
OWNER = Owner(
    "dedup",
    schema.tag("duplicate"),
    signature=DUPLICATES,
    names=frozenset({DUPLICATES, METRICS, KEYS, PAIRS, INDEX, _provenance.FILE, MARKER}),
)


def write(folder: Path, decisions: list[dict], metrics: dict, record: dict) -> None:
    table = pa.Table.from_pylist(decisions, schema=schema.duplicate().arrow)
    schema.duplicate().check(table)
    pq.write_table(table, folder / DUPLICATES, **PARQUET_OPTIONS)
    write_json(folder / METRICS, metrics)
    write_json(folder / _provenance.FILE, record)


KEY_FILE = re.compile(rf"{KEYS}/part-[0-9a-f]{{5,32}}\.parquet")
"""What an index may name as a key file: one in the folder's keys/, nothing outside it."""


def key_files(folder: Path) -> list[Path]:
    return sorted((folder / KEYS).glob("part-*.parquet"))


def key_path(folder: Path, shard: Path) -> Path:
    """The key file of the normalize shard ``shard``: of its name, which it keeps while its rows do not change."""
    return folder / KEYS / shard.name


def write_keys(folder: Path, shard: Path, texts: pa.Array, keys: np.ndarray, has_words: np.ndarray) -> str:
    """The band keys (rows x bands) of the normalize shard ``shard``, by its rows' text hashes ``texts``; the
    file's sha256."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    width = keys.shape[1] * keys.itemsize
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(keys), [None, pa.py_buffer(keys.tobytes())])
    table = pa.table({"text_sha256": texts, "keys": column, "has_words": pa.array(has_words, pa.bool_())})
    return _write(table, key_path(folder, shard))


def read_keys(data: bytes, bands: int) -> tuple[pa.Array, np.ndarray, np.ndarray] | None:
    """The text hashes, band keys and words flags of a key file's rows (its bytes); None if it is not one of
    ``bands`` keys."""
    try:
        table = read_parquet(pa.BufferReader(data))
    except (OSError, pa.ArrowException):
        return None
    if table.schema.names != ["text_sha256", "keys", "has_words"] or any(c.null_count for c in table.columns):
        return None
    texts, column = table.column("text_sha256").combine_chunks(), table.column("keys").combine_chunks()
    if texts.type != pa.string() or column.type != pa.binary(8 * bands) or table.column("has_words").type != pa.bool_():
        return None
    rows = table.num_rows
    keys = np.frombuffer(column.buffers()[1], np.uint64)[column.offset * bands : (column.offset + rows) * bands]
    return texts, keys.reshape(rows, bands), table.column("has_words").to_numpy(zero_copy_only=False)


def write_pairs(folder: Path, similarities: dict[tuple[str, str], float]) -> str:
    """The similarity of each pair of text hashes, in order; the file's sha256."""
    pairs = sorted(similarities.items())
    columns = {"a": [a for (a, _), _ in pairs], "b": [b for (_, b), _ in pairs], "similarity": [s for _, s in pairs]}
    return _write(pa.table(columns, schema=PAIRS_SCHEMA), folder / PAIRS)


def read_pairs(data: bytes) -> dict[tuple[str, str], float]:
    """(text hash, text hash) -> similarity of a pairs file (its bytes); empty if it is not one."""
    try:
        table = read_parquet(pa.BufferReader(data))
    except (OSError, pa.ArrowException):
        return {}
    if not table.schema.equals(PAIRS_SCHEMA):
        return {}
    columns = table.to_pydict()
    return dict(zip(zip(columns["a"], columns["b"]), columns["similarity"]))


def write_index(folder: Path, settings: str, keys: list[dict], pairs: str) -> None:
    """What the next run may take: the settings fingerprint, each key file's texts digest and sha256, and the pairs
    file's sha256."""
    write_json(folder / INDEX, {"settings": settings, "keys": keys, "pairs": pairs})


def _write(table: pa.Table, path: Path) -> str:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return write_hashed(path, sink.getvalue())


def _complete(folder: str | Path) -> Path:
    folder = Path(folder)
    if not (folder / DUPLICATES).is_file() or not OWNER.wrote(folder):
        raise BroadsheetError(f"{folder} is not a dedup output (no {DUPLICATES}): run broadsheet dedup first")
    return folder


def dropped(folder: str | Path, drop: str) -> dict[str, dict]:
    """The duplicates publish leaves out under ``drop`` (exact | near | none): id -> its decision row."""
    if drop == "none":
        return {}
    path = _complete(folder) / DUPLICATES
    try:
        table = read_parquet(path)
    except (OSError, pa.ArrowException) as e:
        raise BroadsheetError(f"{path} is not a readable Parquet file: {e}") from None
    schema.duplicate().check(table)
    return {row["id"]: row for row in table.to_pylist() if row["kind"] in DROP[drop]}


def metrics(folder: str | Path) -> dict:
    """The counts of a dedup output."""
    return read_json(_complete(folder) / METRICS)


def provenance(folder: str | Path) -> dict:
    """What made a dedup output: see ``core.provenance.record``."""
    return read_json(_complete(folder) / _provenance.FILE)
