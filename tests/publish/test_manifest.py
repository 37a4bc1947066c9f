"""The corpus fingerprints: one sha256 of the (id, text_sha256) lines in code-point order, whatever the shards."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from broadsheet.publish import manifest


def reference(pairs: list[tuple[str, str]]) -> str:
    lines = "".join(f"{i}\t{t}\n" for i, t in sorted(pairs))  # Python sorts str by code point, as Arrow sorts UTF-8
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def test_the_fingerprints_are_the_sha256_of_the_sorted_lines_of_the_corpus_and_of_each_split(monkeypatch):
    monkeypatch.setattr(manifest, "FINGERPRINT_BATCH_ROWS", 7)  # lines cut into batches: the hash is of all of them
    ids = ["b", "a", "é", "\U0001f600x", "z", "ä", "a"] * 6
    splits = ["train", "test", "train", "validation", "train", "test", "validation"] * 6
    texts = [hashlib.sha256(f"{n}".encode()).hexdigest() for n in range(len(ids))]
    table = pa.table({"id": ids, "split": splits, "text_sha256": texts})
    table = pa.concat_tables([table.slice(0, 10), table.slice(10)])
    found = manifest.fingerprints(table)
    assert found["all"] == reference(list(zip(ids, texts))) == manifest.fingerprint(table)
    for split in ("train", "validation", "test"):
        assert found[split] == reference([(i, t) for i, s, t in zip(ids, splits, texts) if s == split])
    assert manifest.fingerprint(table.slice(0, 0)) == reference([])
