"""Stable splits: a document's split is a function of its id and the ratios alone.

The id is hashed to a point in [0, 1) and the splits take consecutive
intervals of it, so a document never moves between corpus versions as long as
the ratios stay the same, and adding documents never moves old ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from broadsheet.core import shards
from broadsheet.core.params import SPLITS


def split_of(doc_id: str, ratios: dict[str, float]) -> str:
    return splits_of([doc_id], ratios)[0].as_py()


def splits_of(ids: Iterable[str], ratios: dict[str, float]) -> pa.Array:
    """The split of each id. Its point is ``blake2b / 2**64``: a uint64 rounded to a double and scaled by a power
    of two, the same double as Python's correctly rounded ``int / 2**64``."""
    points = shards.points(ids, b"bs-split").astype(np.float64) / 2.0**64
    chosen = np.full(len(points), -1)
    upper = 0.0
    for k, name in enumerate(SPLITS):
        upper += ratios[name]
        chosen[(chosen < 0) & (points < upper)] = k
    # Rounding: ratios summing to 0.999...
    chosen[chosen < 0] = max(k for k, name in enumerate(SPLITS) if ratios[name] > 0)
    return pa.array(SPLITS, pa.string()).take(pa.array(chosen))
