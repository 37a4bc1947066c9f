"""A second publish takes the shards whose rows did not change, and the content hashes of unchanged rows, from
its previous output; what it writes is byte for byte a fresh run's."""

from __future__ import annotations

import hashlib
import json
import shutil

import datasets
import pyarrow as pa
import pytest

from broadsheet import normalize, publish
from broadsheet.core import files
from broadsheet.core.params import NormalizeParams, PublishParams
from broadsheet.publish import layout, manifest, reuse
from helpers import article, key, settings, tree_bytes, write


def corpus(root, numbers, edited=()) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for n in numbers:
        text = article(n).replace("Second", "An edited second") if n in edited else article(n)
        write(root, f"{n:03d}_{key(n)}.txt", text)


@pytest.fixture
def counted(monkeypatch):
    """How many content hashes and Parquet exports this process computed and wrote."""
    count = {"hashes": 0, "exports": 0}
    content_hashes, write_table = manifest.content_hashes, layout.pq.write_table

    def counting_hash(records):
        count["hashes"] += records.num_rows
        return content_hashes(records)

    def counting_write(table, where, **options):
        count["exports"] += "use_content_defined_chunking" in options
        return write_table(table, where, **options)

    monkeypatch.setattr(manifest, "content_hashes", counting_hash)
    monkeypatch.setattr(layout.pq, "write_table", counting_write)
    return count


def run(raw, folder, out, normalize_params=None, **options):
    params = settings(normalize_params or NormalizeParams(), PublishParams(shard_rows=4), workers=1)
    normalize.run([raw], folder / "n", params, progress=False)
    return publish.run(folder / "n", out, params, progress=False, **options)


def test_a_second_run_encodes_only_the_changed_shards_and_matches_a_fresh_run(tmp_path, counted):
    raw = tmp_path / "raw"
    corpus(raw, range(60))
    run(raw, tmp_path, tmp_path / "p")
    assert counted["hashes"] == 60
    shards = counted["exports"]
    corpus(raw, [*range(1, 60), 70], edited={30})  # one removed, one added, one edited
    counted.update(hashes=0, exports=0)
    again = run(raw, tmp_path, tmp_path / "p")
    assert counted["hashes"] == 2  # the added and the edited documents
    assert 0 < counted["exports"] < shards / 2
    fresh = run(raw, tmp_path, tmp_path / "fresh", fresh=True)
    assert fresh == again
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")
    assert datasets.load_from_disk(str(tmp_path / "p"))["train"].num_rows == fresh["splits"]["train"]["rows"]


def test_a_second_run_checks_kept_shards_without_reading_them(tmp_path, monkeypatch):
    """The state knows every file the first run wrote: a kept shard is hashed by no one, its Arrow file is not
    parsed (the card's example is read from one shard), and of its Parquet copy only the ids are read."""
    raw = tmp_path / "raw"
    corpus(raw, range(60))
    run(raw, tmp_path, tmp_path / "p")
    corpus(raw, [*range(60), 70])
    params = settings(PublishParams(shard_rows=4), workers=1)
    normalize.run([raw], tmp_path / "n", params, progress=False)
    calls = {"hashed": 0, "arrow": 0, "columns": []}
    hash_stream, open_stream, read_parquet = files.hash_stream, pa.ipc.open_stream, reuse.read_parquet

    def hashing(f, *args):
        calls["hashed"] += 1
        return hash_stream(f, *args)

    def streaming(source, *args, **kwargs):
        calls["arrow"] += 1
        return open_stream(source, *args, **kwargs)

    def reading(source, columns=None):
        calls["columns"].append(columns)
        return read_parquet(source, columns)

    monkeypatch.setattr(files, "hash_stream", hashing)
    monkeypatch.setattr(pa.ipc, "open_stream", streaming)
    monkeypatch.setattr(reuse, "read_parquet", reading)
    publish.run(tmp_path / "n", tmp_path / "p", params, progress=False)
    kept = len(json.loads((tmp_path / "p" / layout.INDEX).read_text())["splits"]["train"])
    assert kept > 5 and calls["hashed"] == 0 and calls["arrow"] <= 1
    assert set(map(tuple, calls["columns"])) == {("id",), ("id", "path", "raw_sha256", "content_sha256")}


def test_a_damaged_shard_or_another_normaliser_is_encoded_again(tmp_path, counted):
    raw = tmp_path / "raw"
    corpus(raw, range(40))
    run(raw, tmp_path, tmp_path / "p")
    damaged = layout.arrow_files(tmp_path / "p", "train")[0]
    damaged.write_bytes(damaged.read_bytes()[:-8])  # no longer the file the index names
    counted.update(hashes=0, exports=0)
    run(raw, tmp_path, tmp_path / "p")
    assert counted == {"hashes": 0, "exports": 1}
    run(raw, tmp_path, tmp_path / "fresh", fresh=True)
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")

    other = NormalizeParams(extract_dateline=False)  # every record may differ: nothing is taken
    counted.update(hashes=0, exports=0)
    run(raw, tmp_path, tmp_path / "p", other)
    assert counted["hashes"] == 40
    run(raw, tmp_path, tmp_path / "fresh", other, fresh=True)
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")


def test_nothing_swapped_or_planted_in_the_previous_output_is_taken(tmp_path, counted):
    import json
    import os

    raw = tmp_path / "raw"
    corpus(raw, range(60))
    run(raw, tmp_path, tmp_path / "fresh")
    run(raw, tmp_path, tmp_path / "p")
    index_path = tmp_path / "p" / layout.INDEX
    index = json.loads(index_path.read_text())
    train = index["splits"]["train"]
    train[0]["key"], train[1]["key"] = train[1]["key"], train[0]["key"]  # each key now names the other's files
    index_path.write_text(json.dumps(index))
    planted = layout.arrow_files(tmp_path / "p", "train")[2]
    planted.unlink()
    os.mkfifo(planted)  # would hang a reader
    counted.update(hashes=0, exports=0)
    run(raw, tmp_path, tmp_path / "p")
    assert counted == {"hashes": 0, "exports": 3}
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")

    manifest_file = layout.manifest_files(tmp_path / "p")[0]
    manifest_file.unlink()
    os.mkfifo(manifest_file)
    counted.update(hashes=0, exports=0)
    run(raw, tmp_path, tmp_path / "p")
    assert counted["hashes"] == 60  # without a readable manifest nothing of the previous output is taken
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")

    index = json.loads(index_path.read_text())
    index["splits"]["train"][0]["arrow_sha256"] = None  # nothing to check the file by: nothing is taken unchecked
    index_path.write_text(json.dumps(index))
    counted.update(hashes=0, exports=0)
    run(raw, tmp_path, tmp_path / "p")
    assert counted["hashes"] == 60
    assert tree_bytes(tmp_path / "p") == tree_bytes(tmp_path / "fresh")


def test_a_shard_key_is_the_hash_of_its_rows_line_by_line():
    rows = pa.table(
        {
            "id": ["a", "é", "", "x\ny"],
            "source.path": ["raw/a.txt", "raw/é\u2028.txt", "t.tar/m", ""],
            "source.raw_sha256": ["0" * 64, "1" * 64, "", "2"],
        }
    )
    digest = hashlib.sha256(b"fp")
    for doc_id, path, raw in zip(*(rows.column(c).to_pylist() for c in rows.column_names)):
        digest.update(f"{doc_id}\0{path}\0{raw}\n".encode())
    assert reuse.shard_key("fp", rows) == digest.hexdigest()
    chunked = pa.Table.from_batches(rows.to_batches(max_chunksize=1))
    assert reuse.shard_key("fp", chunked) == reuse.shard_key("fp", rows.slice(0)) == digest.hexdigest()
    assert reuse.shard_key("fp", rows.slice(1, 2)) != reuse.shard_key("fp", rows.slice(0, 2))
