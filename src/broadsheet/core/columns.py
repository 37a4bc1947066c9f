"""Small summaries of Arrow columns that several stages count."""

from __future__ import annotations

import hashlib
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc


def value_counts(array: pa.Array | pa.ChunkedArray) -> Counter:
    """How often each value occurs in ``array``."""
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()})


def compact(data: pa.Array | pa.Table):
    """``data`` in buffers of its own, exactly sized. A slice's buffers are its parent's: an Arrow file written from
    it holds the parent's validity bytes, and a pickle of it (a task for a worker) the parent's whole buffers."""
    if isinstance(data, pa.Array):
        return pa.concat_arrays([data])
    columns = [pa.concat_arrays(c.chunks) if c.num_chunks else pa.array([], c.type) for c in data.columns]
    return pa.Table.from_arrays(columns, schema=data.schema)


def digest(columns: list[pa.Array | pa.ChunkedArray], salt: str = "") -> str:
    """sha256 of ``salt`` and of a line a row: its values as text, joined by NUL, ended by a newline (a null as
    ``\\N``), the lines joined in Arrow."""
    text = [pc.fill_null(c.cast(pa.string()), "\\N") for c in columns]
    found = hashlib.sha256(salt.encode())
    found.update(lines(text, "\0"))
    return found.hexdigest()


def lines(columns: list[pa.Array | pa.ChunkedArray], separator: str) -> pa.Buffer | bytes:
    """The rows of string ``columns`` (no nulls) as text: each row's values joined by ``separator`` and ended by a
    newline, the rows back to back, all joined in Arrow."""
    joined = pc.binary_join_element_wise(*columns[:-1], pc.binary_join_element_wise(columns[-1], "", "\n"), separator)
    joined = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
    if not len(joined):
        return b""
    whole = pa.ListArray.from_arrays(pa.array([0, len(joined)], pa.int32()), joined)
    return pc.binary_join(whole, "")[0].as_buffer()
