"""A straightforward MinHash of word shingles, one text and one shingle at a time, in Python integers.

It follows the definition broadsheet.dedup.minhash implements fast: words are what pyarrow's
``utf8_lower`` then ``split_pattern_regex("[^\\w]+")`` leave (empty strings dropped), each hashed with
zlib.crc32; a shingle is the multiply-add of ngram consecutive word hashes (the whole text when it is
shorter), folded to 32 bits; the signature holds, per permutation (a, b), the least high 32 bits of
(a*h + b) mod 2^64 over the text's set of shingles. Slow, and obviously that.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MULT = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1


def words(text: str | None) -> list[bytes]:
    if text is None:
        return []
    lowered = pc.utf8_lower(pa.array([text]))
    return [w.encode("utf-8") for w in pc.split_pattern_regex(lowered, pattern=r"[^\w]+")[0].as_py() if w]


def shingles(text: str | None, ngram: int) -> set[int]:
    hashes = [zlib.crc32(w) for w in words(text)]
    n = min(ngram, len(hashes))
    found = set()
    for start in range(len(hashes) - n + 1) if hashes else ():
        acc = 0
        for h in hashes[start : start + n]:
            acc = (acc * MULT + h) & MASK64
        found.add((acc ^ (acc >> 32)) & 0xFFFFFFFF)
    return found


def signature(text: str | None, ngram: int, perms) -> list[int]:
    found = shingles(text, ngram)
    return [
        min((((int(a) * h + int(b)) & MASK64) >> 32 for h in found), default=0xFFFFFFFF)
        for a, b in zip(perms.a, perms.b)
    ]


def signatures(texts: pa.Array, ngram: int, perms) -> tuple[np.ndarray, np.ndarray]:
    """What broadsheet.dedup.minhash.signatures returns: signatures and which texts have words."""
    rows = texts.to_pylist()
    out = np.array([signature(t, ngram, perms) for t in rows], np.uint32).reshape(len(rows), len(perms.a))
    return out, np.array([bool(words(t)) for t in rows], bool)


def shingle_sets(texts: pa.Array, ngram: int) -> list[np.ndarray]:
    """What broadsheet.dedup.minhash.shingle_sets returns: each text's sorted distinct shingles."""
    return [np.array(sorted(shingles(t, ngram)), np.uint32) for t in texts.to_pylist()]
