"""publish on workers: each task reads the rows it names from the normalize output and writes one shard; the
folder is byte for byte the same on one worker, on several, and in this process; the content hashes the workers
compute are ``content_sha256``'s, byte for byte."""

from __future__ import annotations

import dataclasses
import pickle
import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet import normalize, publish
from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.params import NormalizeParams, PublishParams
from broadsheet.normalize import folder as normalize_folder
from broadsheet.publish import layout, manifest, plan, sources
from broadsheet.publish import stage as publish_stage
from helpers import article, key, make_corpus, normalized_corpus, settings, tree_bytes, write

CONTENT = manifest.CONTENT_FIELDS + manifest.ADDED_FIELDS


def hostile(rng: random.Random) -> str:
    """A string of what JSON escapes or might be thought to: every control character, quotes, backslashes,
    DEL, line and paragraph separators, a BOM, astral characters, and plain text."""
    alphabet = [chr(c) for c in range(0x20)] + list('"\\/\x7f\u2028\u2029\ufeff\u00e9\u2019\U0001f600 ab')
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))


def test_content_hashes_are_content_sha256_byte_for_byte():
    rng = random.Random(7)
    rows = [
        {
            "title": hostile(rng),
            "dateline": hostile(rng) if rng.random() < 0.5 else None,
            "text": hostile(rng),
            "related": [hostile(rng) for _ in range(rng.randrange(0, 4))],
            "url": hostile(rng) if rng.random() < 0.5 else None,
            "date": hostile(rng) if rng.random() < 0.5 else None,
        }
        for _ in range(3000)
    ]
    arrow = pa.schema([schema.document().arrow.field(name) for name in CONTENT])
    table = pa.Table.from_pylist(rows, schema=arrow)
    expected = [manifest.content_sha256(row) for row in rows]
    assert manifest.content_hashes(table).to_pylist() == expected
    assert manifest.content_hashes(table.slice(11, 500)).to_pylist() == expected[11:511]  # a slice's offsets
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=333))
    assert manifest.content_hashes(chunked).to_pylist() == expected


@pytest.fixture
def normalized(tmp_path):
    return normalized_corpus(tmp_path, 240)


def test_the_folder_is_the_same_in_this_process_and_on_workers(tmp_path, normalized, monkeypatch):
    small = PublishParams(shard_rows=8)
    publish.run(normalized, tmp_path / "here", settings(small, workers=1), progress=False)
    monkeypatch.setattr(publish_stage, "INLINE_ROWS", 0)  # the workers write every shard, even of a small corpus
    publish.run(normalized, tmp_path / "one", settings(small, workers=1), progress=False)
    publish.run(normalized, tmp_path / "two", settings(small, workers=2), progress=False)
    assert tree_bytes(tmp_path / "two") == tree_bytes(tmp_path / "here") == tree_bytes(tmp_path / "one")
    assert len(layout.arrow_files(tmp_path / "two", "train")) > 10


def test_a_task_names_its_rows_and_does_not_carry_them(tmp_path, monkeypatch):
    """What a worker is sent stays small however long the texts: a slice of Arrow pickles its parent's buffers."""
    for n in range(60):
        write(tmp_path / "raw", f"{n:03d}_{key(n)}.txt", article(n, words=4000))
    params = settings(NormalizeParams(shard_rows=20), PublishParams(shard_rows=4), workers=1)
    normalize.run([tmp_path / "raw"], tmp_path / "n", params, progress=False)
    sizes, run = [], layout.run

    def measured(task):
        # As a task for another process is sent: it reads its rows itself (here they come from a shared reader).
        sizes.append(len(pickle.dumps(dataclasses.replace(task, source=sources.rows))))
        return run(task)

    monkeypatch.setattr(layout, "run", measured)
    publish.run(tmp_path / "n", tmp_path / "p", params, progress=False)
    text = sum(p.stat().st_size for p in (tmp_path / "raw").iterdir())
    assert len(sizes) > 10
    assert max(sizes) < 64 * 1024 < text / 20


def _edited_copy(normalized, shard):
    """The same shard normalised again from a corpus with one document edited: the same ids, other rows."""
    raw = normalized.parent / "edited"
    make_corpus(raw, 240)
    first = sorted(raw.iterdir())[0]
    first.write_text(first.read_text().replace(" w0x1 ", " edited ", 1))
    normalize.run([raw], normalized.parent / "n2", settings(NormalizeParams(shard_rows=30), workers=1), progress=False)
    shutil.copyfile(normalize_folder.shards(normalized.parent / "n2")[0], shard)  # the first, as ``shard`` is


PLANNED = r"is not what publish planned from( \(.+\))?: it changed while publish ran"
"""The line for rows that are not the planned ones; a shard that cannot be read any more gets the reader's line,
which says why."""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda shards: shutil.copyfile(shards[1], shards[0]), PLANNED),  # another shard's rows
        (lambda shards: _edited_copy(shards[0].parent.parent, shards[0]), PLANNED),
        (lambda shards: pq.write_table(pa.table({"id": ["x"]}), shards[0]), r"\(not records of document\.v"),
        (lambda shards: shards[0].write_bytes(shards[0].read_bytes()[:-100]), r"cannot be read \(.*meanwhile"),
        (lambda shards: shards[0].unlink(), r"cannot be read \(No such file or directory\)"),
    ],
    ids=["another shard", "edited", "another schema", "truncated", "gone"],
)
def test_a_normalized_shard_changed_after_the_plan_is_a_one_line_error(
    tmp_path, normalized, monkeypatch, change, expected
):
    make = plan.make
    shards = normalize_folder.shards(normalized)

    def then_changed(*args, **kwargs):
        planned = make(*args, **kwargs)
        change(shards)
        return planned

    monkeypatch.setattr(plan, "make", then_changed)
    with pytest.raises(BroadsheetError, match=expected):
        publish.run(normalized, tmp_path / "p", settings(workers=1), progress=False)
    assert not (tmp_path / "p").exists()


def test_a_previous_manifest_changed_in_place_gives_no_content_hash(tmp_path, normalized):
    """The index lists the manifest's files by sha256: a hash edited there (or the file rewritten by another
    tool) is not taken, and the next run is a fresh run's bytes."""
    params = settings(PublishParams(shard_rows=8), workers=1)
    publish.run(normalized, tmp_path / "p", params, progress=False)
    part = layout.manifest_files(tmp_path / "p")[0]
    table = pq.read_table(part)
    hashes = table.column("content_sha256").to_pylist()
    table = table.set_column(3, "content_sha256", pa.array(["0" * 64] + hashes[1:], pa.large_string()))
    pq.write_table(table, part)
    publish.run(normalized, tmp_path / "p", params, progress=False)
    publish.run(normalized, tmp_path / "fresh", params, progress=False, fresh=True)
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")


@pytest.mark.parametrize("index", ["[1]", '"x"', "[" * 100_000 + "]" * 100_000, '{"fingerprint": 1}'])
def test_a_previous_index_of_another_shape_gives_nothing(tmp_path, normalized, index):
    params = settings(PublishParams(shard_rows=8), workers=1)
    publish.run(normalized, tmp_path / "p", params, progress=False)
    (tmp_path / "p" / layout.INDEX).write_text(index)
    publish.run(normalized, tmp_path / "p", params, progress=False)
    publish.run(normalized, tmp_path / "fresh", params, progress=False, fresh=True)
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")
