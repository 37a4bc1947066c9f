"""The normalize output's format, owned here: its file names, how they are written, and the reading API.

```
data/part-<sha256>.parquet    the records (schemas/document), content-defined shards, each named by its bytes
rejects.parquet               files that gave no record, with a reason (schemas/reject)
filtered.parquet              records the quality filters removed, with the measured value (schemas/filtered)
takedowns.parquet             documents taken down (takedowns.csv) and left out unread (schemas/takedown)
metrics.json                  the accounting: input_files = documents + rejected + skipped + filtered + taken_down
shards.json                   the index of the shards, in source order, for the readers and the next run
archives.parquet              the listing of each tar shard read (by its sha256), for the next run's walk
provenance.json               toolkit version, code hash and settings of the run (core.provenance)
```
Later stages read this folder only through ``shards``, ``table``, ``metrics`` and ``provenance``.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet.core import provenance as _provenance
from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError, first_line
from broadsheet.core.files import MARKER, Owner, read_json
from broadsheet.core.shards import PARQUET_OPTIONS, read_parquet

DATA = "data"
REJECTS = "rejects.parquet"
FILTERED = "filtered.parquet"
TAKEDOWNS = "takedowns.parquet"
METRICS = "metrics.json"
INDEX = "shards.json"
ARCHIVES = "archives.parquet"
COUNTED = ("flags", "encoding", "lang")
"""The record columns whose values metrics.json counts (each shard's ``counts`` in the index)."""
OWNER = Owner(
    "normalize",
    schema.tag("document"),
    signature=INDEX,
    names=frozenset({DATA, REJECTS, FILTERED, TAKEDOWNS, METRICS, INDEX, ARCHIVES, _provenance.FILE, MARKER}),
)


SHARD_FILE = re.compile(rf"{DATA}/part-[0-9a-f]{{5,32}}\.parquet")
"""What the index may name as a shard's file: one in the folder's data/, nothing outside it (the names of
earlier versions, part-00012, too)."""


def shard_name(sha256: str) -> str:
    """The file of the shard of those bytes (128 bits of their sha256).

    A name that says what the shard holds, not where it is: a shard added or removed before it leaves it its
    name, so DVC's state, which knows a file by its path, still knows its hash. Their order is the index's.
    """
    return f"{DATA}/part-{sha256[:32]}.parquet"


def write_table(path: Path, rows: Iterable[dict], table_schema: schema.Schema) -> None:
    """Rows as a Parquet table sorted by path (else id), checked against ``table_schema``."""
    ordered = sorted(rows, key=lambda r: (r.get("path") or "", r.get("id") or "", r["reason"]))
    table = pa.Table.from_pylist(ordered, schema=table_schema.arrow)
    table_schema.check(table)
    pq.write_table(table, path, **PARQUET_OPTIONS)


def _complete(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise BroadsheetError(f"normalized folder {folder} does not exist (run broadsheet normalize first)")
    if not (folder / METRICS).is_file() or not (folder / DATA).is_dir() or not OWNER.wrote(folder):
        raise BroadsheetError(
            f"{folder} is not a complete normalize output (run broadsheet normalize, or give its --out)"
        )
    return folder


def shards(folder: str | Path) -> list[Path]:
    """The Parquet shards of a complete normalize output, in order (the index's), each checked to have the
    document schema."""
    folder = _complete(folder)
    paths = [folder / name for name in _listed(read_json(folder / INDEX), folder / INDEX)]
    expected = schema.document()
    for path in paths:
        if not path.is_file():  # a FIFO would hang the reader (a link to a file, as DVC makes, is one)
            raise BroadsheetError(f"{path} is not a regular file")
        try:
            found = pq.read_schema(path)
        except (OSError, pa.ArrowException) as e:
            raise BroadsheetError(f"{path} is not a readable Parquet file: {e}") from None
        if not found.equals(expected.arrow, check_metadata=False):
            version = (found.metadata or {}).get(b"broadsheet.schema", b"unknown").decode()
            raise BroadsheetError(
                f"{path} has schema {version}, not {expected.name}.v{expected.version}: run broadsheet normalize again"
            )
    return paths


def _listed(index, where: Path) -> list[str]:
    """The shard files an index (``INDEX``'s data) names, in order: each once, and each in data/."""
    try:
        names = [row["file"] for row in index["shards"] if row["file"] is not None]
    except (KeyError, TypeError) as e:
        raise BroadsheetError(f"{where} is not an index of shards ({type(e).__name__}: {e})") from None
    if not all(isinstance(n, str) and SHARD_FILE.fullmatch(n) for n in names) or len(set(names)) != len(names):
        raise BroadsheetError(f"{where} names a shard twice, or a file that is not one of data/: run normalize again")
    return names


TABLES = {REJECTS: schema.reject, FILTERED: schema.filtered, TAKEDOWNS: schema.takedown}


def table(folder: str | Path, name: str) -> pa.Table:
    """One of the TABLES of a complete normalize output, checked against its schema (empty when an earlier
    version of broadsheet did not write it)."""
    expected = TABLES[name]()
    path = _complete(folder) / name
    if not path.is_file():
        return expected.arrow.empty_table()
    try:
        found = read_parquet(path)
    except (OSError, pa.ArrowException) as e:
        raise BroadsheetError(f"{path} is not a readable Parquet file: {str(e)[:200]}") from None
    expected.check(found)
    return found


def read(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The ``columns`` (a nested field as ``struct.field``, kept nested; all by default) of one of ``shards``'
    files, read now, on one thread (the callers use every core).

    The file was checked when it was listed; what it is now is checked again, on the file opened: one changed
    since (truncated, emptied, of another schema, swapped for a FIFO, which would block a plain open) is one
    ``BroadsheetError``, not a traceback or a hang.
    """
    doc = schema.document()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise _changed(path, e.strerror) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _changed(path, "not a regular file")
    with io.FileIO(fd, closefd=True) as raw:
        try:
            with pq.ParquetFile(pa.PythonFile(raw, mode="r")) as file:
                if not file.schema_arrow.equals(doc.arrow, check_metadata=False):
                    raise _changed(path, f"not records of {doc.name}.v{doc.version}")
                return file.read(columns=columns, use_threads=False)
        except (OSError, ValueError, pa.ArrowException) as e:  # ArrowInvalid is a ValueError
            raise _changed(path, first_line(e)) from None


def _changed(path, why: str) -> BroadsheetError:
    return BroadsheetError(f"{path} cannot be read ({why}): the normalize output changed meanwhile? run again")


def records(path: str | Path) -> pa.RecordBatch:
    """A shard's records (``read``), as one batch under the document schema."""
    table = read(path).combine_chunks()
    columns = [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns]
    return pa.RecordBatch.from_arrays(columns, schema=schema.document().arrow)


def columns(paths: list[Path], names: list[str], threads: int = 1) -> pa.Table:
    """The columns ``names`` (a nested field as ``struct.field``) of every row of the shards ``paths``, in order
    and flattened, with ``shard`` (the position of the row's shard in ``paths``) and ``row`` (its position there);
    read by ``threads`` threads (Arrow reads without the GIL)."""
    empty = schema.document().arrow.empty_table().flatten().select(names)

    def light(path: Path) -> pa.Table:
        return read(path, names).flatten().select(names).cast(empty.schema)

    with ThreadPoolExecutor(threads) as pool:
        tables = [empty, *pool.map(light, paths)]
    found = pa.concat_tables(tables)
    lengths = [t.num_rows for t in tables[1:]]
    shard = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    row = np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]) if lengths else np.zeros(0, np.int32)
    return found.append_column("shard", pa.array(shard)).append_column("row", pa.array(row)).combine_chunks()


def fingerprint(folder: str | Path) -> str:
    """The normaliser's fingerprint (``reuse.fingerprint``) of a complete normalize output; "" if its index
    has none."""
    try:
        return str(read_json(_complete(folder) / INDEX).get("fingerprint", ""))
    except (BroadsheetError, AttributeError):
        return ""


def metrics(folder: str | Path) -> dict:
    """The accounting and counts of a complete normalize output."""
    return read_json(_complete(folder) / METRICS)


def provenance(folder: str | Path) -> dict:
    """What made a complete normalize output: see ``core.provenance.record``."""
    return read_json(_complete(folder) / _provenance.FILE)
