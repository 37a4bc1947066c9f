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
    lines = pc.binary_join_element_wise(*text[:-1], pc.binary_join_element_wise(text[-1], "", "\n"), "\0")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    found = hashlib.sha256(salt.encode())
    if len(lines):
        whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
        found.update(pc.binary_join(whole, "")[0].as_buffer())
    return found.hexdigest()
