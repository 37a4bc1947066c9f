"""Stable splits: a document's split is a function of its id and the ratios alone.

The id is hashed to a point in [0, 1) and the splits take consecutive
intervals of it, so a document never moves between corpus versions as long as
the ratios stay the same, and adding documents never moves old ones.
"""

from __future__ import annotations

import hashlib

from broadsheet.core.params import SPLITS


def split_of(doc_id: str, ratios: dict[str, float]) -> str:
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, person=b"bs-split").digest()
    point = int.from_bytes(digest, "big") / 2**64
    upper = 0.0
    for name in SPLITS:
        upper += ratios[name]
        if point < upper:
            return name
    return next(name for name in reversed(SPLITS) if ratios[name] > 0)  # rounding: ratios summing to 0.999...
