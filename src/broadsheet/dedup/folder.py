"""The dedup output's format, owned here: the decisions table and its metrics, and the reading API.

```
duplicates.parquet   one row per member of a duplicate cluster (schemas/duplicate): cluster (the kept id),
                     id, path, kind (kept | exact | near), similarity to the kept document
metrics.json         documents, clusters, exact and near duplicates, candidate and verified pairs
provenance.json      toolkit version, code hash and settings of the run (core.provenance)
```
Later stages read it only through ``dropped`` and ``provenance``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet.core import provenance as _provenance
from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER, Owner, read_json, write_json
from broadsheet.core.shards import PARQUET_OPTIONS

DUPLICATES = "duplicates.parquet"
METRICS = "metrics.json"
DROP = {"none": set(), "exact": {"exact"}, "near": {"exact", "near"}}
"""What publish leaves out under each ``dedup.drop``: the kinds of cluster member."""
OWNER = Owner(
    "dedup",
    schema.tag("duplicate"),
    signature=DUPLICATES,
    names=frozenset({DUPLICATES, METRICS, _provenance.FILE, MARKER}),
)


def write(folder: Path, decisions: list[dict], metrics: dict, record: dict) -> None:
    table = pa.Table.from_pylist(decisions, schema=schema.duplicate().arrow)
    schema.duplicate().check(table)
    pq.write_table(table, folder / DUPLICATES, **PARQUET_OPTIONS)
    write_json(folder / METRICS, metrics)
    write_json(folder / _provenance.FILE, record)


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
        table = pq.read_table(path)
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
