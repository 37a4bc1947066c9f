"""The fast MinHash (bytes for characters, integer word keys, minima over repeats) equals the straightforward one."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import slow_minhash
from broadsheet.dedup import minhash

TRICKY = [
    "",
    "   ",
    "...!?",
    "One",
    "two words",
    "Three words here",
    "Exactly five words in it",
    "Hello, World! The QUICK brown fox_jumps over 12 lazy dogs; ok?",
    "Café naïve ÉCOLE straße ΑΒΓ — “quoted” ‘single’ … 日本語テスト 🙂 end",
    "İstanbul KELVIN \u212aelvin ǅemal ﬁne ı İİ \u212a\u212a",  # U+0130 and U+212A lower-case to ASCII
    "a\u0301b combining and\u00a0no-break\u2009thin spaces\ttab\nnewline\r\nend",
    "antidisestablishmentarianism internationalisation 0123456789abcdef_longwords_with_underscores",
    "eightchr ninechars seven77 exactly8 abcdefgh abcdefghi 12345678 123456789",
    "repeat repeat repeat repeat repeat repeat repeat repeat repeat",
    "Mixed™ Ąb Ī ° ℹ ⅓ ² ¹ ₂ ⓐ ａｂｃ fullwidth",
    "x" * 300 + " " + "y" * 9,
    "\x00nul\x00bytes\x01",
]


def random_texts(rng: random.Random, count: int) -> list[str]:
    alphabet = list("abcXYZ019_ -.,;:'\"\n\t") + list("İ\u212aıéß“”—日🙂\u0301ǅΣẞ™Ą°")
    texts = []
    for _ in range(count):
        share = rng.random()
        length = rng.choice([0, 1, 3, 10, 40, 200])
        texts.append(
            "".join(rng.choice(alphabet) if rng.random() < share else rng.choice("abcdefghij") for _ in range(length))
        )
    return texts


def test_no_other_character_lower_cases_to_an_ascii_word_character():
    # The fast tokeniser maps bytes, not characters: it must know every character whose lower case is ASCII \w.
    points = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    lowered = pc.utf8_lower(pa.array([chr(c) for c in points])).to_pylist()
    found = {chr(c): low for c, low in zip(points, lowered) if re.search(r"[0-9A-Za-z_]", low)}
    assert found == minhash.LOWER_TO_ASCII


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_words_are_those_of_the_regex_split(kind):
    texts = TRICKY + random_texts(random.Random(1), 300) + [None]
    array = pa.array(texts, kind)
    hashes, offsets = minhash.token_hashes(array)
    assert len(offsets) == len(texts) + 1
    for i, text in enumerate(texts):
        expected = [zlib.crc32(w) for w in slow_minhash.words(text)]
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == expected, text


def test_texts_that_meet_without_a_separator_stay_apart():
    # In the batch's bytes one text's last word touches the next one's first: they are still two words.
    array = pa.array(["ab", "cd", "", "ef gh", "ij"]).slice(1)
    hashes, offsets = minhash.token_hashes(array)
    assert np.diff(offsets).tolist() == [1, 0, 2, 1]


@pytest.mark.parametrize(
    "texts",
    [["a"] * 1000, ["a b"] * 500 + ["c"] * 500, ["x y z"] * 300, [" a"] * 400, ["ab", "c", "d e"] * 200, ["a"]],
)
def test_as_many_words_as_the_bytes_allow(texts):
    # One-letter texts back to back: every byte a word, more words than half the bytes.
    hashes, offsets = minhash.token_hashes(pa.array(texts))
    assert hashes.tolist() == [zlib.crc32(w) for text in texts for w in slow_minhash.words(text)]
    assert np.diff(offsets).tolist() == [len(slow_minhash.words(text)) for text in texts]


@pytest.mark.parametrize("ngram", [1, 2, 5])
def test_signatures_equal_the_straightforward_minhash(ngram):
    perms = minhash.Permutations.make(32, seed=5)
    texts = pa.array(TRICKY + random_texts(random.Random(ngram), 150) + [None])
    for array in (texts, texts.slice(7, 100)):
        fast, has_words = minhash.signatures(array, ngram, perms)
        slow, slow_words = slow_minhash.signatures(array, ngram, perms)
        assert np.array_equal(fast, slow)
        assert np.array_equal(has_words, slow_words)


def test_signatures_of_long_texts_across_windows():
    # Texts longer than the kernel's window of shingles, and many short ones in one window.
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(n)) for n in (20000, 3, 9000, 0, 1, 12000)]
    texts += [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 30))) for _ in range(400)]
    perms = minhash.Permutations.make(16, seed=9)
    fast, _ = minhash.signatures(pa.array(texts), 5, perms)
    assert np.array_equal(fast, slow_minhash.signatures(pa.array(texts), 5, perms)[0])


@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_shingle_sets_equal_the_straightforward_sets(ngram):
    texts = pa.array(TRICKY + random_texts(random.Random(10 + ngram), 150))
    fast = minhash.shingle_sets(texts, ngram)
    slow = slow_minhash.shingle_sets(texts, ngram)
    assert len(fast) == len(slow)
    for text, got, expected in zip(texts.to_pylist(), fast, slow):
        assert got.dtype == np.uint32 and np.array_equal(got, expected), text
        words, offsets = minhash.token_hashes(pa.array([text]))
        assert np.array_equal(minhash.shingles(words[offsets[0] : offsets[1]], ngram), expected)


def test_offsets_past_the_bytes_are_refused_before_the_compiled_loop(monkeypatch):
    # Arrow validates the arrays it builds; the loop, which checks no index, must never see one that lies anyway.
    monkeypatch.setattr(minhash, "_word_bytes", lambda texts: (b"ab cd", np.array([0, 3, 900])))
    with pytest.raises(ValueError, match="offsets do not fit"):
        minhash.token_hashes(pa.array(["ab ", "cd"]))


def test_a_function_numba_cannot_cache_is_compiled_all_the_same():
    # A function with no source file stands for a read-only install: Numba finds no folder to cache it in.
    scope: dict = {}
    exec("def add(a, b):\n    return a + b\n", scope)
    assert minhash._compiled(scope["add"])(2, 3) == 5


FIRST_CALLS = """
import sys, threading
import numpy as np, pyarrow as pa
from broadsheet.dedup import minhash
texts = pa.array([f"word{i} and more words here, {i % 7} times" for i in range(2000)])
perms = minhash.Permutations.make(32, seed=1)
found = []
threads = [threading.Thread(target=lambda: found.append(minhash.signatures(texts, 5, perms)[0])) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert len(found) == 4 and all(np.array_equal(f, found[0]) for f in found)
sys.stdout.write(str(int(found[0].sum(dtype=np.uint64))))
"""


def _first_calls(cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    run = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.slow
def test_first_calls_on_many_threads_and_a_corrupt_cache_give_the_same_signatures(tmp_path):
    # Four threads calling the loops first at once, with nothing cached: no deadlock, the same signatures.
    cold = _first_calls(tmp_path / "cache")
    cached = list((tmp_path / "cache").rglob("*.nb*"))
    assert cached
    assert _first_calls(tmp_path / "cache") == cold
    for file in cached:  # a cache written over by something else: compiled again, not a traceback
        file.write_bytes(b"\x80\x04garbage" if file.suffix == ".nbi" else b"")
    assert _first_calls(tmp_path / "cache") == cold
