"""MinHash signatures of word shingles, LSH banding, and the exact Jaccard check.

Vectorised over a batch of texts: a byte table lower-cases the words and
blanks everything else (the words pyarrow's utf8_lower and an RE2 split on
``[^\\w]+`` give), each distinct word of the batch is hashed once (crc32),
NumPy builds the shingle hashes and takes the minima of all permutations at
once, over every shingle of a text rather than its set. Every hash is seeded
and stable, so signatures do not depend on the process, batch size or machine.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_HASH = np.uint32(0xFFFFFFFF)
_SHINGLE_MULT = np.uint64(0x9E3779B97F4A7C15)
_PERM_CHUNK = 16  # permutations x _WINDOW shingles at once: temporaries that fit the cache, few NumPy calls
_WINDOW = 1 << 13


@dataclass(frozen=True)
class Permutations:
    """Hash functions h -> high 32 bits of (a*h + b) mod 2^64 ("multiply-add-shift", a odd).

    2.5x faster in NumPy than the textbook (a*h + b) mod (2^61 - 1), which costs a
    64-bit division per shingle and permutation; estimates are as good in tests.
    """

    a: np.ndarray
    b: np.ndarray

    @classmethod
    def make(cls, num_perm: int, seed: int) -> Permutations:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, 1 << 64, size=num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        b = rng.integers(0, 1 << 64, size=num_perm, dtype=np.uint64, endpoint=False)
        return cls(a, b)


def token_hashes(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """crc32 of every lower-cased word of every text, flattened, and the offsets of each text's words.

    A word is a run of ASCII letters, digits and "_" in the lower-cased text (RE2's ``\\w``, which is ASCII only:
    every other character separates words). So bytes can stand for characters: once a table maps word bytes to
    their lower case and every other byte (those of UTF-8's multi-byte characters too) to a space, the words are
    the runs of non-space bytes.
    """
    data, text_starts = _word_bytes(texts)
    starts, ends = _word_bounds(data, text_starts)
    return _word_hashes(data, starts, ends), np.searchsorted(starts, text_starts)


# Word bytes (ASCII letters, lower-cased, digits, "_") to themselves, every other byte to a space.
_WORD_BYTES = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 95) else 32 for c in range(256)
)
LOWER_TO_ASCII = {"\u0130": "i", "\u212a": "k"}
"""The characters beyond ASCII whose lower case (pyarrow's utf8_lower) is an ASCII word character, and that
character: replaced before the bytes are mapped (a test checks there are no others in all of Unicode)."""
_PAD = 8  # spaces after the last text, so that 8 bytes can be read from where any word starts


def _word_bytes(texts: pa.Array) -> tuple[bytes, np.ndarray]:
    """A space, the texts' bytes one after another, mapped by ``_WORD_BYTES``, and ``_PAD`` spaces; where each text
    starts in them (and where the last ends)."""
    texts = _strings(texts)
    raw, starts = _raw_bytes(texts)
    # Looking for a single byte is fast (memchr); the characters' other bytes are rare in most text too.
    if (b"\xc4" in raw and b"\xc4\xb0" in raw) or (b"\x84" in raw and b"\xe2\x84\xaa" in raw):
        for char, ascii_char in LOWER_TO_ASCII.items():
            texts = pc.replace_substring(texts, char, ascii_char)
        raw, starts = _raw_bytes(texts)
    return raw.translate(_WORD_BYTES), starts


def _strings(texts: pa.Array) -> pa.Array:
    """``texts`` as a string or large_string array without nulls (a null text has no words)."""
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())
    return texts.fill_null("") if texts.null_count else texts


def _text_offsets(texts: pa.Array) -> np.ndarray:
    """Where each text starts in the data buffer, and where the last ends."""
    width = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    return np.frombuffer(texts.buffers()[1], width)[texts.offset : texts.offset + len(texts) + 1]


def _raw_bytes(texts: pa.Array) -> tuple[bytes, np.ndarray]:
    offsets = _text_offsets(texts)
    data = texts.buffers()[2]
    raw = memoryview(data)[offsets[0] : offsets[-1]] if data is not None else b""
    return b"".join([b" ", raw, b" " * _PAD]), offsets.astype(np.int64) - offsets[0] + 1


def _word_bounds(data: bytes, text_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each word (run of non-space bytes within one text) of ``data`` starts and ends."""
    word = np.frombuffer(data, np.uint8) != 32
    edge = np.empty(len(word), bool)
    edge[0] = False  # data starts with a space
    np.not_equal(word[1:], word[:-1], out=edge[1:])
    edges = np.flatnonzero(edge)
    starts, ends = edges[0::2], edges[1::2]  # data ends with spaces: every run ends
    # A text that starts with a word byte right after one that ends with a word byte: the run is two words.
    inner = text_starts[1:-1]
    joins = inner[word[inner - 1] & word[inner]]
    joins = joins[np.diff(joins, prepend=-1) > 0]  # sorted: drop the repeats that empty texts make
    if len(joins):
        runs = np.searchsorted(starts, joins) - 1
        starts, ends = np.insert(starts, runs + 1, joins), np.insert(ends, runs, joins)
    return starts, ends


_KEY_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(9)], np.uint64)


def _word_hashes(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """crc32 of each word of ``data`` (from starts[i] to ends[i]), computed once per distinct word.

    A word of up to 8 bytes is told apart by its bytes read as one little-endian integer (word bytes are never
    zero, so its length is in it too): integers hash and crc32 much faster than strings. Longer words are
    compared as bytes.
    """
    if len(starts) == 0:
        return np.zeros(0, np.uint32)
    lengths = ends - starts
    at = np.ndarray(len(data) - _PAD + 1, np.dtype("<u8"), buffer=data, strides=(1,))  # the 8 bytes from each byte
    short = lengths <= 8
    if short.all():
        return _once(pa.array(at[starts] & _KEY_MASKS[lengths]), _key_crc32)
    hashes = np.empty(len(starts), np.uint32)
    shorts, longs = np.flatnonzero(short), np.flatnonzero(~short)
    hashes[shorts] = _once(pa.array(at[starts[shorts]] & _KEY_MASKS[lengths[shorts]]), _key_crc32)
    # Each long word as the bytes up to the next word's start (the word and the spaces after it), then those only.
    bounds = pa.py_buffer(np.append(starts, len(data)).astype(np.int64))
    spans = pa.Array.from_buffers(pa.large_binary(), len(starts), [None, bounds, pa.py_buffer(data)])
    hashes[longs] = _once(spans.take(pa.array(longs)), _span_crc32)
    return hashes


def _once(values: pa.Array, hash_all) -> np.ndarray:
    """``hash_all`` of the distinct values, for every value."""
    encoded = pc.dictionary_encode(values)
    return hash_all(encoded.dictionary)[encoded.indices.to_numpy(zero_copy_only=False)]


def _span_crc32(spans: pa.Array) -> np.ndarray:
    return np.fromiter((zlib.crc32(s.rstrip(b" ")) for s in spans.to_pylist()), dtype=np.uint32, count=len(spans))


def _crc32_table() -> np.ndarray:
    """zlib's crc32 table (reflected polynomial 0xEDB88320): the crc of each byte value."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table


_CRC32 = _crc32_table()


def _key_crc32(keys: pa.Array) -> np.ndarray:
    """zlib.crc32 of each key's bytes (little-endian, up to the first zero byte), byte by byte for all at once."""
    keys = keys.to_numpy()
    crc = np.full(len(keys), 0xFFFFFFFF, np.uint32)
    for i in range(8):
        byte = ((keys >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(np.uint32)
        np.copyto(crc, _CRC32[(crc ^ byte) & 0xFF] ^ (crc >> 8), where=byte != 0)
    return crc ^ np.uint32(0xFFFFFFFF)


def shingles(words: np.ndarray, ngram: int) -> np.ndarray:
    """Sorted distinct 32-bit hashes of the word n-grams of one text (the whole text when it is shorter)."""
    return np.unique(shingle_hashes(words, np.array([0, len(words)]), ngram).astype(np.uint32))


def shingle_sets(texts: pa.Array, ngram: int) -> list[np.ndarray]:
    """``shingles`` of each text."""
    words, offsets = token_hashes(texts)
    hashes = shingle_hashes(words, offsets, ngram)
    # One sort for all: (text, shingle) pairs as one integer, distinct.
    owner = np.repeat(np.arange(len(texts), dtype=np.uint64), np.diff(offsets))
    pairs = np.sort((owner << np.uint64(32)) | hashes)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    bounds = np.searchsorted(pairs >> np.uint64(32), np.arange(len(texts) + 1, dtype=np.uint64))
    values = pairs.astype(np.uint32)  # the low 32 bits: the shingle
    return [values[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


def shingle_hashes(words: np.ndarray, offsets: np.ndarray, ngram: int) -> np.ndarray:
    """The 32-bit hash (as uint64) of a shingle of every text at each of its words: its word range (``offsets``)
    holds its shingles, each at least once, and nothing else.

    At a word with ngram - 1 or more words after it in its text is the n-gram starting there; at each of the
    text's last ngram - 1 words, a copy of its first n-gram, which changes neither a minimum nor a set. A text
    shorter than ``ngram`` words has one shingle, its whole text, at each of its words.
    """
    n = len(words)
    wide = np.zeros(n + ngram - 1, np.uint64)
    wide[:n] = words
    acc = wide[:n].copy()
    for k in range(1, ngram):  # the n-gram from every word of the flat list, across texts
        acc *= _SHINGLE_MULT
        acc += wide[k : n + k]
    firsts, counts = offsets[:-1], np.diff(offsets)
    full = counts >= ngram
    for k in range(1, ngram):
        acc[offsets[1:][full] - k] = acc[firsts[full]]
    short = (counts > 0) & ~full
    if short.any():
        firsts, lengths = firsts[short], counts[short]
        whole = np.zeros(len(firsts), np.uint64)
        for k in range(ngram - 1):
            more = lengths > k
            whole[more] = whole[more] * _SHINGLE_MULT + wide[firsts[more] + k]
        for k in range(ngram - 1):
            more = lengths > k
            acc[firsts[more] + k] = whole[more]
    acc ^= acc >> np.uint64(32)
    acc &= np.uint64(0xFFFFFFFF)
    return acc


def signatures(texts: pa.Array, ngram: int, perms: Permutations) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (len(texts) x num_perm, uint32) and which texts have words (the others' rows are MAX_HASH).

    The minima are taken over ``shingle_hashes``, repeats included: a repeat cannot change a minimum, so this is
    the signature of each text's set of shingles without building the sets. Texts go a few megabytes at a time,
    which bounds the temporaries (several times the size of the texts).
    """
    texts = _strings(texts)
    out = np.full((len(texts), len(perms.a)), MAX_HASH, np.uint32)
    has_words = np.zeros(len(texts), bool)
    for lo, hi in _batches(texts):
        words, offsets = token_hashes(texts[lo:hi])
        some = np.diff(offsets) > 0
        has_words[lo:hi] = some
        out[lo:hi][some] = _minima(shingle_hashes(words, offsets, ngram), offsets[:-1][some], perms).T
    return out, has_words


_BATCH_BYTES = 1 << 22


def _batches(texts: pa.Array) -> list[tuple[int, int]]:
    """Consecutive ranges of ``texts`` of up to _BATCH_BYTES each (a longer text alone)."""
    offsets = _text_offsets(texts).astype(np.int64)
    bounds, lo = [], 0
    while lo < len(texts):
        hi = max(int(np.searchsorted(offsets, offsets[lo] + _BATCH_BYTES, "right")) - 1, lo + 1)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def _minima(hashes: np.ndarray, starts: np.ndarray, perms: Permutations) -> np.ndarray:
    """High 32 bits of min over each segment of ``hashes`` (segment i from starts[i]) of (a*h + b) mod 2^64:
    num_perm x segments.

    The high 32 bits of a minimum are the minimum of the high 32 bits, so the shift waits for the minima. Windows
    of shingles x a few permutations keep the temporaries in cache; each row is one permutation, so every NumPy
    loop runs over a long contiguous row.
    """
    minima = np.full((len(perms.a), len(starts)), np.iinfo(np.uint64).max, np.uint64)
    buffer = np.empty(_PERM_CHUNK * _WINDOW, np.uint64)
    for lo in range(0, len(hashes), _WINDOW):
        hi = min(lo + _WINDOW, len(hashes))
        # The segments in this window: the one it starts inside, and those starting before its end.
        first = np.searchsorted(starts, lo, "right") - 1
        last = np.searchsorted(starts, hi, "left")
        local = np.maximum(starts[first:last] - lo, 0)
        window = hashes[None, lo:hi]
        for p in range(0, len(perms.a), _PERM_CHUNK):
            a, b = perms.a[p : p + _PERM_CHUNK, None], perms.b[p : p + _PERM_CHUNK, None]
            permuted = buffer[: len(a) * (hi - lo)].reshape(len(a), hi - lo)
            np.multiply(a, window, out=permuted)
            np.add(permuted, b, out=permuted)
            block = minima[p : p + len(a), first:last]
            np.minimum(block, np.minimum.reduceat(permuted, local, axis=1), out=block)
    return (minima >> np.uint64(32)).astype(np.uint32)


def band_keys(signature_matrix: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per text and band (texts x bands): equal keys make candidate pairs."""
    keys = np.zeros((signature_matrix.shape[0], bands), np.uint64)
    for band in range(bands):  # widen one band at a time: a full uint64 copy would double the memory
        block = signature_matrix[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.zeros(signature_matrix.shape[0], np.uint64)
        for r in range(rows):
            key = key * _SHINGLE_MULT + block[:, r] + np.uint64(1)
        keys[:, band] = key
    return keys


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted distinct shingle sets."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)
