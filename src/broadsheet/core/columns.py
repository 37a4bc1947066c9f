"""Small summaries of Arrow columns that several stages count."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc


def value_counts(array: pa.Array | pa.ChunkedArray) -> Counter:
    """How often each value occurs in ``array``."""
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()})


def compact(data: pa.Array | pa.RecordBatch | pa.Table):
    """``data`` in buffers of its own, exactly sized. A slice's buffers are its parent's: an Arrow file written from
    it holds the parent's validity bytes, and a pickle of it (a task for a worker) the parent's whole buffers."""
    if isinstance(data, pa.Array):
        return pa.concat_arrays([data])
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in data.columns], schema=data.schema)
    columns = [pa.concat_arrays(c.chunks) if c.num_chunks else pa.array([], c.type) for c in data.columns]
    return pa.Table.from_arrays(columns, schema=data.schema)
