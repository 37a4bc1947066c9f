"""A second dedup run takes the band keys and similarities of texts that did not change, and its output is
byte for byte a fresh run's."""

from __future__ import annotations

import random
import shutil

import pytest

from broadsheet import dedup, normalize
from broadsheet.core.params import DedupParams, NormalizeParams
from broadsheet.dedup import folder as layout
from broadsheet.dedup import minhash
from helpers import settings, tree_bytes, write

WORDS = [f"word{i}" for i in range(400)]


def story(rng: random.Random) -> str:
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(40)) + "." for _ in range(5))


def corpus(root, stories: dict[int, str]) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for n, text in stories.items():
        write(root, f"{n:03d}_{n:016x}.txt", f"Story {n}\n{text}")


@pytest.fixture
def stories():
    """80 stories, a few of them near copies of others."""
    rng = random.Random(3)
    found = {n: story(rng) for n in range(80)}
    for copy, original in ((70, 5), (71, 17), (72, 40)):
        found[copy] = found[original].replace("word", "wörd", 1) + " And a sentence more."
    return found


def run(raw, folder, out, count, **options):
    """Normalise ``raw`` into ``folder``/n (small shards), then dedup into ``out``; the texts hashed for band keys
    are counted in ``count``."""
    params = settings(NormalizeParams(shard_rows=8), DedupParams(), workers=1)
    normalize.run([raw], folder / "n", params, progress=False)
    return dedup.run(folder / "n", out, params, progress=False, **options)


@pytest.fixture
def hashed(monkeypatch):
    """How many texts got a MinHash signature, and how many pairs a Jaccard check, in this process."""
    count = {"texts": 0, "pairs": 0}
    signatures, jaccard = minhash.signatures, minhash.jaccard

    def counting_signatures(texts, *args):
        count["texts"] += len(texts)
        return signatures(texts, *args)

    def counting_jaccard(a, b):
        count["pairs"] += 1
        return jaccard(a, b)

    monkeypatch.setattr(minhash, "signatures", counting_signatures)
    monkeypatch.setattr(minhash, "jaccard", counting_jaccard)
    return count


def changed(stories: dict[int, str]) -> dict[int, str]:
    """Two stories added (one a near copy), one edited, one removed."""
    rng = random.Random(9)
    found = dict(stories)
    found[90] = story(rng)
    found[91] = found[60] + " Another sentence."
    found[33] = story(rng)
    del found[12]
    return found


def test_a_second_run_redoes_only_what_changed_and_matches_a_fresh_run(tmp_path, stories, hashed):
    raw = tmp_path / "raw"
    corpus(raw, stories)
    first = run(raw, tmp_path, tmp_path / "d", hashed)
    assert hashed["texts"] == 80 and first["near_duplicates"] == 3
    corpus(raw, changed(stories))
    hashed.update(texts=0, pairs=0)
    again = run(raw, tmp_path, tmp_path / "d", hashed)
    assert hashed["texts"] == 3  # the two added and the edited story; every other text's keys came from the last run
    assert again["near_duplicates"] == 4
    compared = hashed["pairs"]
    hashed.update(texts=0, pairs=0)
    fresh = run(raw, tmp_path, tmp_path / "fresh", hashed, fresh=True)
    assert fresh == again and hashed["texts"] == 81
    assert compared < hashed["pairs"]  # the pairs of unchanged texts were not compared again
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")


def test_other_settings_or_a_damaged_key_file_are_computed_again(tmp_path, stories, hashed):
    raw = tmp_path / "raw"
    corpus(raw, stories)
    run(raw, tmp_path, tmp_path / "d", hashed)
    for path in layout.key_files(tmp_path / "d")[:2]:
        path.write_bytes(b"PAR1 not a key file")
    hashed["texts"] = 0
    run(raw, tmp_path, tmp_path / "d", hashed)
    assert 0 < hashed["texts"] < 80
    run(raw, tmp_path, tmp_path / "fresh", hashed, fresh=True)
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")

    other = settings(NormalizeParams(shard_rows=8), DedupParams(num_perm=64, bands=8, rows=8), workers=1)
    hashed["texts"] = 0
    dedup.run(tmp_path / "n", tmp_path / "d", other, progress=False)
    assert hashed["texts"] == 80
    dedup.run(tmp_path / "n", tmp_path / "fresh", other, progress=False, fresh=True)
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")


def test_nothing_altered_or_planted_in_the_previous_output_is_taken(tmp_path, stories, hashed):
    import json
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = tmp_path / "raw"
    corpus(raw, stories)
    run(raw, tmp_path, tmp_path / "fresh", hashed)
    run(raw, tmp_path, tmp_path / "d", hashed)
    files = layout.key_files(tmp_path / "d")
    table = pq.read_table(files[0])  # valid Parquet, its texts, random keys: not the file the index vouches for
    noise = np.random.default_rng(0).integers(0, 1 << 63, size=(table.num_rows, 16), dtype=np.uint64)
    column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(128), table.num_rows, [None, pa.py_buffer(noise.tobytes())])
    pq.write_table(table.set_column(1, "keys", column), files[0])
    pairs = pq.read_table(tmp_path / "d" / layout.PAIRS)
    pq.write_table(pairs.set_column(2, "similarity", pa.array([0.0] * pairs.num_rows)), tmp_path / "d" / layout.PAIRS)
    files[1].unlink()
    os.mkfifo(files[1])  # would hang a reader
    files[2].unlink()
    (tmp_path / "outside.parquet").write_bytes(files[3].read_bytes())
    files[2].symlink_to(tmp_path / "outside.parquet")
    index = json.loads((tmp_path / "d" / layout.INDEX).read_text())
    hashed.update(texts=0, pairs=0)
    run(raw, tmp_path, tmp_path / "d", hashed)
    assert 0 < hashed["texts"] < 80 and hashed["pairs"] > 0
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")

    index["keys"][0]["file"] = "../outside.parquet"  # an index naming a file outside the folder is not taken at all
    (tmp_path / "d" / layout.INDEX).write_text(json.dumps(index))
    hashed["texts"] = 0
    run(raw, tmp_path, tmp_path / "d", hashed)
    assert hashed["texts"] == 80
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")

    index = json.loads((tmp_path / "d" / layout.INDEX).read_text())
    index["keys"][0]["sha256"] = None  # no sha256 to check the file by: nothing is taken unchecked
    (tmp_path / "d" / layout.INDEX).write_text(json.dumps(index))
    hashed["texts"] = 0
    run(raw, tmp_path, tmp_path / "d", hashed)
    assert hashed["texts"] == 80
    assert tree_bytes(tmp_path / "d") == tree_bytes(tmp_path / "fresh")
