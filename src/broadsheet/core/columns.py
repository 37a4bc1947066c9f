"""Small summaries of Arrow columns that several stages count."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc


def value_counts(array: pa.Array | pa.ChunkedArray) -> Counter:
    """How often each value occurs in ``array``."""
    return Counter({item["values"]: item["counts"] for item in pc.value_counts(array).to_pylist()})
