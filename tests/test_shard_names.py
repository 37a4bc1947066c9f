"""A shard's file is named by what it holds, not by where it is: documents added before it leave it its name and
its inode (a hard link), so DVC's state, which knows a file by its path, size, inode and mtime, still knows its
hash and does not read it again."""

from __future__ import annotations

import os

from broadsheet import dedup, normalize, publish
from broadsheet.core.params import NormalizeParams, PublishParams
from broadsheet.publish.stage import Inputs
from helpers import make_corpus, settings, tree_bytes

PARAMS = settings(NormalizeParams(shard_rows=20), PublishParams(shard_rows=20), workers=1)
SHARDS = {"n": ("data",), "d": ("keys",), "p": ("train", "validation", "test", "data", "manifest")}
"""Each stage's folder, and its subfolders of shard files."""


def pipeline(out, raw, fresh: bool = False) -> None:
    normalize.run([raw], out / "n", PARAMS, progress=False, fresh=fresh)
    dedup.run(out / "n", out / "d", PARAMS, progress=False, fresh=fresh)
    publish.run(Inputs(out / "n", duplicates=out / "d"), out / "p", PARAMS, progress=False, fresh=fresh)


def shard_files(out) -> dict[str, tuple[str, int]]:
    """sha256 of each shard file's bytes -> (its path in ``out``, its inode)."""
    hashes = tree_bytes(out)
    return {
        sha256: (path, os.stat(out / path).st_ino)
        for path, sha256 in hashes.items()
        if (parts := path.split("/"))[1:2] and parts[1] in SHARDS[parts[0]] and path.endswith((".parquet", ".arrow"))
    }


def test_documents_added_before_every_shard_leave_the_unchanged_shards_their_names_and_inodes(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 240, start=100)
    pipeline(out, raw)
    before = shard_files(out)
    make_corpus(raw, 60, start=0)  # they sort first: positions would move every shard after them
    pipeline(out, raw)
    after = shard_files(out)

    same_bytes = before.keys() & after.keys()
    moved = {sha: (before[sha][0], after[sha][0]) for sha in same_bytes if before[sha] != after[sha]}
    assert moved == {}  # same bytes: the same name, and the same file (hard-linked, not written again)
    for stage in SHARDS:
        kept = [sha for sha in same_bytes if before[sha][0].startswith(f"{stage}/")]
        old = [sha for sha in before if before[sha][0].startswith(f"{stage}/")]
        assert len(kept) >= len(old) // 2, (stage, len(kept), len(old))  # most shards did not change

    pipeline(tmp_path / "fresh", raw, fresh=True)
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")
