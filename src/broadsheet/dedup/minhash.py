"""MinHash signatures of word shingles, LSH banding, and the exact Jaccard check.

Over a batch of texts at once: a byte table lower-cases the words and
blanks everything else (the words pyarrow's utf8_lower and an RE2 split on
``[^\\w]+`` give), a compiled loop (Numba) takes the crc32 of every word,
NumPy builds the shingle hashes, and another compiled loop takes the minima of
all permutations over every shingle of a text rather than its set. Every hash is
seeded and stable, so signatures do not depend on the process, batch size or
machine. The loops are compiled at their first call and cached beside this file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_HASH = np.uint32(0xFFFFFFFF)
_SHINGLE_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Permutations:
    """Hash functions h -> high 32 bits of (a*h + b) mod 2^64 ("multiply-add-shift", a odd).

    2.5x faster than the textbook (a*h + b) mod (2^61 - 1), which costs a
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
    load()
    data, text_starts = _word_bytes(texts)
    if len(text_starts) and (text_starts[-1] != len(data) or (np.diff(text_starts) < 0).any()):
        raise ValueError("a string array whose offsets do not fit its data")  # the compiled loop checks no index
    return _word_crc32(np.frombuffer(data, np.uint8), text_starts)


# Word bytes (ASCII letters, lower-cased, digits, "_") to themselves, every other byte to a space.
_WORD_BYTES = bytes(
    c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 95) else 32 for c in range(256)
)
LOWER_TO_ASCII = {"\u0130": "i", "\u212a": "k"}
"""The characters beyond ASCII whose lower case (pyarrow's utf8_lower) is an ASCII word character, and that
character: replaced before the bytes are mapped (a test checks there are no others in all of Unicode)."""


def _word_bytes(texts: pa.Array) -> tuple[bytes, np.ndarray]:
    """The texts' bytes one after another, mapped by ``_WORD_BYTES``; where each text starts in them (and where
    the last ends)."""
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
    raw = bytes(memoryview(data)[offsets[0] : offsets[-1]]) if data is not None else b""
    return raw, offsets.astype(np.int64) - offsets[0]


def _crc32_table() -> np.ndarray:
    """zlib's crc32 table (reflected polynomial 0xEDB88320): the crc of each byte value."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table


_CRC32 = _crc32_table()
_SPACE = np.uint8(32)


def _compiled(func):
    """``func`` compiled by Numba (on its first call), releasing the GIL, and cached on disk where Numba can."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # no folder to cache in (a read-only install and home): compiled by each process
        return numba.njit(nogil=True)(func)


_LOADING = threading.Lock()
_loaded = False


def load() -> None:
    """Compile the loops or load them from Numba's cache, once per process, one thread at a time.

    A stage calls it on its main thread before its worker threads start: two threads calling a loop for the first
    time at once can deadlock (Numba's compiler lock against Python's import lock). A cache that cannot be read
    or written (corrupt, a full disk) costs only the compilation.
    """
    global _loaded, _word_crc32, _minima
    with _LOADING:
        if _loaded:
            return
        try:
            _first_calls()
        except Exception:  # whatever the cache raised: compile afresh, without it
            _word_crc32, _minima = (numba.njit(nogil=True)(f.py_func) for f in (_word_crc32, _minima))
            _first_calls()
        _loaded = True


def _first_calls() -> None:
    """Each loop once, on arguments of the types the stage gives it."""
    _word_crc32(np.frombuffer(b"a b", np.uint8), np.array([0, 3], np.int64))
    one = np.ones(1, np.uint64)
    _minima(one, np.zeros(1, np.int64), one, one)


@_compiled
def _word_crc32(data: np.ndarray, text_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """zlib.crc32 of each run of non-space bytes of ``data`` that lies within one text (text i from
    text_starts[i] to text_starts[i + 1]), in order, and the offsets of each text's runs."""
    texts = len(text_starts) - 1
    # A text of n bytes holds at most (n + 1) // 2 words (a word, then a space before the next): the bound for
    # all (Numba checks no index: an array too short would be written past its end).
    hashes = np.empty((len(data) + texts) // 2 + 1, np.uint32)
    offsets = np.empty(texts + 1, np.int64)
    count = 0
    for t in range(texts):
        offsets[t] = count
        i, end = text_starts[t], text_starts[t + 1]
        while i < end:
            if data[i] == _SPACE:
                i += 1
                continue
            crc = np.uint32(0xFFFFFFFF)
            while i < end and data[i] != _SPACE:
                crc = _CRC32[(crc ^ data[i]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
                i += 1
            hashes[count] = crc ^ np.uint32(0xFFFFFFFF)
            count += 1
    offsets[texts] = count
    return hashes[:count].copy(), offsets


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
        out[lo:hi][some] = _minima(shingle_hashes(words, offsets, ngram), offsets[:-1][some], perms.a, perms.b)
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


@_compiled
def _minima(hashes: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """High 32 bits of min over each segment of ``hashes`` (segment i from starts[i] to starts[i + 1], the last to
    the end) of (a*h + b) mod 2^64, for every permutation (a, b): segments x permutations.

    The high 32 bits of a minimum are the minimum of the high 32 bits, so the shift waits for the minima. The
    inner loop runs over the permutations, whose minima stay in registers.
    """
    segments, perms = len(starts), len(a)
    out = np.empty((segments, perms), np.uint32)
    least = np.empty(perms, np.uint64)
    for s in range(segments):
        least[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
        end = starts[s + 1] if s + 1 < segments else len(hashes)
        for i in range(starts[s], end):
            h = hashes[i]
            for p in range(perms):
                least[p] = min(least[p], a[p] * h + b[p])
        for p in range(perms):
            out[s, p] = np.uint32(least[p] >> np.uint64(32))
    return out


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
