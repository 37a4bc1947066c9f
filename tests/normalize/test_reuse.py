"""A second `broadsheet normalize` reuses what did not change, a shard or a record at a time, and writes
exactly the bytes a fresh run writes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet import normalize
from broadsheet.core import files
from broadsheet.core.params import NormalizeParams
from broadsheet.inputs import walk
from broadsheet.normalize import task
from broadsheet.text import document
from helpers import article, key, make_corpus, settings, tree_bytes, write

SMALL = NormalizeParams(shard_rows=10)


@pytest.fixture
def normalised(monkeypatch):
    """The relative paths normalise_document and normalise_record were called on (one worker: this process).
    Row groups of 3 sources, so that a shard's reused and new rows share row groups, and span several."""
    calls = []

    def counting(function):
        def counted(raw, source, params, *known_hash):
            calls.append(source.relpath)
            return function(raw, source, params, *known_hash)

        return counted

    monkeypatch.setattr(task, "normalize_document", counting(document.normalize_document))
    monkeypatch.setattr(task, "normalize_record", counting(document.normalize_record))
    monkeypatch.setattr(task, "ROW_GROUP_ROWS", 3)
    return calls


def run(raw, out, section=SMALL, workers=1, **options):
    return normalize.run([raw], out, settings(section, workers=workers), progress=False, **options)


def assert_as_fresh(raw, out, section=SMALL):
    fresh = out.parent / "fresh"
    run(raw, fresh, section, fresh=True)
    assert tree_bytes(out) == tree_bytes(fresh)


def name(n: int) -> str:
    return f"{n:06d}_{key(n)}.txt"


def pack(path, files, mode: str = "w") -> None:
    """A tar shard holding ``files``, by their names (``mode``: "w:gz" for a gzip one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for file in files:
            info = tarfile.TarInfo(file.name)
            info.size = file.stat().st_size
            tar.addfile(info, io.BytesIO(file.read_bytes()))


def test_in_a_changed_shard_only_the_new_edited_and_renamed_files_are_normalised(tmp_path, normalised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 200)
    run(raw, out)
    make_corpus(raw, 2, start=200)  # appended
    write(raw, f"{20_000:06d}_{key(20_000)}.txt", article(20_000))  # new, far from the end of no shard
    write(raw, name(50), article(50) + " An edit.")
    (raw / name(120)).unlink()
    os.rename(raw / name(150), raw / f"renamed-{name(150)}")  # unnamed now: it moves to the end
    normalised.clear()
    run(raw, out)
    assert sorted(normalised) == sorted(
        [name(200), name(201), f"{20_000:06d}_{key(20_000)}.txt", name(50), f"renamed-{name(150)}"]
    )
    assert_as_fresh(raw, out)


def test_a_file_rejected_or_filtered_before_is_read_through_again(tmp_path, normalised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 30)
    write(raw, name(7), "Short\nToo short.")  # filtered: too few words
    write(raw, name(8), b"")  # rejected: empty
    run(raw, out)
    write(raw, name(9), article(9) + " An edit.")  # the shard holding both changes
    normalised.clear()
    run(raw, out)
    assert sorted(normalised) == sorted([name(7), name(8), name(9)])
    assert_as_fresh(raw, out)


def test_a_messy_folder_changed_gives_the_fresh_bytes(tmp_path, messy, normalised):
    section = NormalizeParams(shard_rows=3, max_file_bytes=5000)
    out = tmp_path / "out"
    run(messy, out, section)
    no_record = {
        r["path"] for name in ("rejects.parquet", "filtered.parquet") for r in pq.read_table(out / name).to_pylist()
    }
    write(messy, "crlf.txt", article(3).replace("\n", "\r\n") + " An edit.")
    write(messy, "ünïcödé/added.txt", article(9))
    (messy / "koi8.txt").unlink()
    normalised.clear()
    run(messy, out, section)
    changed = {"crlf.txt", "inside-link.txt", "ünïcödé/added.txt"}
    assert changed <= set(normalised) <= changed | no_record
    assert_as_fresh(messy, out, section)


def test_edited_and_appended_records_of_a_jsonl_file_are_the_only_ones_normalised(tmp_path, normalised):
    section = NormalizeParams(shard_rows=10, format="jsonl", include=("*.jsonl",))
    raw, out = tmp_path / "raw", tmp_path / "out"

    def feed(count: int, edited: int | None = None) -> bytes:
        lines = [{"id": f"r{n}", "title": f"Headline {n}", "text": article(n)} for n in range(count)]
        if edited is not None:
            lines[edited]["text"] += " An edit."
        return b"".join(json.dumps(line).encode() + b"\n" for line in lines)

    write(raw, "feed.jsonl", feed(60))
    run(raw, out, section)
    write(raw, "feed.jsonl", feed(62, edited=30))
    normalised.clear()
    run(raw, out, section)
    assert sorted(normalised) == ["feed.jsonl:000000031", "feed.jsonl:000000061", "feed.jsonl:000000062"]
    assert_as_fresh(raw, out, section)


def test_members_of_a_tar_shard_are_reused_as_files_are(tmp_path, normalised):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    pack(raw / "part.tar", make_corpus(loose, 60))
    run(raw, out)
    write(loose, name(20), article(20) + " An edit.")
    make_corpus(loose, 1, start=60)
    pack(raw / "part.tar", sorted(loose.iterdir()))
    normalised.clear()
    run(raw, out)
    assert sorted(normalised) == [f"part.tar/{name(20)}", f"part.tar/{name(60)}"]
    assert_as_fresh(raw, out)


@pytest.mark.parametrize("damage", ["tampered", "deleted"])
def test_a_previous_shard_not_as_its_index_says_gives_no_row(tmp_path, normalised, damage):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 100)
    run(raw, out)
    shard = sorted((out / "data").iterdir())[0]
    held = set(json.loads((out / "shards.json").read_text())["shards"][0]["span"][0][1:])
    if damage == "tampered":  # a readable file, one text changed: its rows must not be taken on trust
        table = pq.read_table(shard)
        texts = table.column("text").to_pylist()
        texts[1] = "Tampered."
        pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), shard)
    else:
        shard.unlink()
    write(raw, name(0), article(0) + " An edit.")  # the first shard changes: its rows would come from the damaged file
    normalised.clear()
    run(raw, out)
    assert held <= set(normalised) and len(normalised) >= 5, "every source of the damaged shard is normalised"
    assert_as_fresh(raw, out)


def test_other_settings_reuse_no_record(tmp_path, normalised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 50)
    run(raw, out)
    write(raw, name(5), article(5) + " An edit.")
    normalised.clear()
    other = NormalizeParams(shard_rows=10, extract_dateline=False)
    run(raw, out, other)
    assert len(normalised) == 50
    assert_as_fresh(raw, out, other)


def test_several_workers_give_the_fresh_bytes(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 120)
    run(raw, out, workers=2)
    make_corpus(raw, 2, start=120)
    write(raw, name(33), article(33) + " An edit.")
    run(raw, out, workers=2)
    assert_as_fresh(raw, out)


def test_kept_shards_are_the_previous_files_linked_not_written_again(tmp_path, normalised):
    raw, out = tmp_path / "raw", tmp_path / "out"
    make_corpus(raw, 60)
    write(raw, name(3), "Short\nToo short.")
    run(raw, out)
    before = {p.name: os.stat(p).st_ino for p in (out / "data").iterdir()}
    write(raw, name(3), "Short\nStill too short.")  # its shard's key changes, not its rows
    run(raw, out)
    after = {p.name: os.stat(p).st_ino for p in (out / "data").iterdir()}
    assert after == before
    assert_as_fresh(raw, out)


def test_nothing_planted_or_miscounted_in_the_previous_output_is_taken(tmp_path, normalised):
    raw, out = tmp_path / "raw", tmp_path / "n"
    for n in range(120):
        write(raw, name(n), article(n))
    run(raw, out)
    shards = sorted((out / "data").glob("part-*.parquet"))
    assert len(shards) >= 4
    shards[0].unlink()
    os.mkfifo(shards[0])  # would hang a reader
    (tmp_path / "outside.parquet").write_bytes(shards[2].read_bytes())
    shards[1].unlink()
    shards[1].symlink_to(tmp_path / "outside.parquet")  # would lead out of the folder
    index = json.loads((out / "shards.json").read_text())
    index["shards"][2]["rows"] += 1  # what the index says no longer matches its file
    (out / "shards.json").write_text(json.dumps(index))
    normalised.clear()
    run(raw, out)
    assert 0 < len(normalised) < 120
    assert_as_fresh(raw, out)

    index = json.loads((out / "shards.json").read_text())
    index["shards"][3]["file"] = "../../outside.parquet"
    (out / "shards.json").write_text(json.dumps(index))
    normalised.clear()
    run(raw, out)
    assert len(normalised) == 120  # an index naming a file outside the folder is not taken at all
    assert_as_fresh(raw, out)


@pytest.mark.parametrize("edit", ["same file", "swapped", "same name, other sha256"])
def test_an_index_whose_entries_would_meet_at_one_file_is_not_taken(tmp_path, normalised, edit):
    """Files are named by their sha256: an index edited so that two entries name one file (or two sha256 that
    give one name) must neither lose a shard nor write through a hard link into the previous output."""
    raw, out = tmp_path / "raw", tmp_path / "n"
    for n in range(60):
        write(raw, name(n), article(n))
    run(raw, out)
    index = json.loads((out / "shards.json").read_text())
    first, second = [row for row in index["shards"] if row["file"]][:2]
    if edit == "same file":
        second.update(file=first["file"], sha256=first["sha256"], rows=first["rows"])
    elif edit == "swapped":
        for field in ("file", "sha256"):
            first[field], second[field] = second[field], first[field]
    else:
        second["sha256"] = first["sha256"][:32] + "0" * 32
        second["file"] = first["file"]
    (out / "shards.json").write_text(json.dumps(index))
    backup = tmp_path / "backup"
    backup.mkdir()
    before = {}
    for path in (out / "data").iterdir():
        os.link(path, backup / path.name)  # as `cp -al` or DVC's hardlink cache would hold them
        before[path.name] = path.read_bytes()
    normalised.clear()
    run(raw, out)
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == before
    assert_as_fresh(raw, out)


def test_a_changed_shard_past_the_bytes_held_reads_its_files_again(tmp_path, normalised, monkeypatch):
    raw, out = tmp_path / "raw", tmp_path / "n"
    for n in range(30):
        write(raw, name(n), article(n))
    run(raw, out)
    monkeypatch.setattr(task, "HOLD_BYTES", 200)  # about one file: the rest are read again to be normalised
    write(raw, name(7), article(7) + " An edit.")
    write(raw, name(40), article(40))
    normalised.clear()
    run(raw, out)
    assert sorted(normalised) == [name(7), name(40)]
    assert_as_fresh(raw, out)


@pytest.fixture
def opened(monkeypatch):
    """The tar shards listed (inflated for their headers) and the sources read, by relative path."""
    found = {"listed": [], "read": []}

    def listing(shard, params):
        found["listed"].append(os.path.basename(shard[0]))
        return listing_of(shard, params)

    def reading(source, *args):
        found["read"].append(source.relpath)
        return read(source, *args)

    listing_of, read = walk._listing, task.read
    monkeypatch.setattr(walk, "_listing", listing)
    monkeypatch.setattr(task, "read", reading)
    return found


def packed(loose, raw, shards: int, per_shard: int = 20, gzip: bool = True) -> None:
    files = make_corpus(loose, shards * per_shard)
    for n in range(shards):
        path = raw / f"part-{n}.tar{'.gz' if gzip else ''}"
        pack(path, files[n * per_shard : (n + 1) * per_shard], "w:gz" if gzip else "w")


def test_unchanged_tar_shards_are_neither_inflated_nor_read_again(tmp_path, normalised, opened):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 3)
    run(raw, out)
    assert sorted(opened["listed"]) == ["part-0.tar.gz", "part-1.tar.gz", "part-2.tar.gz"]
    (raw / "part-3.tar.gz").write_bytes((raw / "part-1.tar.gz").read_bytes())  # a copy: the same ids, not read
    pack(raw / "part-4.tar.gz", make_corpus(tmp_path / "more", 5, start=100), "w:gz")
    opened["listed"].clear(), opened["read"].clear(), normalised.clear()
    run(raw, out)
    assert opened["listed"] == ["part-4.tar.gz"]
    # read: the new shard's members, and those the last content-defined shard held (the new ones joined it)
    assert not {path.split("/")[0] for path in opened["read"]} & {"part-0.tar.gz", "part-1.tar.gz", "part-3.tar.gz"}
    assert len(opened["read"]) < 20
    assert sorted(normalised) == [f"part-4.tar.gz/{name(n)}" for n in range(100, 105)]
    assert_as_fresh(raw, out)
    assert json.loads((out / "shards.json").read_text())["archives"] is not None


def test_new_documents_in_every_shard_are_the_only_members_read(tmp_path, normalised, opened):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    files = [write(loose, name(n), article(n)) for n in range(0, 120, 2)]  # even ordinals, 60 documents
    for n in range(3):
        pack(raw / f"part-{n}.tar.gz", files[n * 20 : (n + 1) * 20], "w:gz")
    run(raw, out)
    assert len(json.loads((out / "shards.json").read_text())["shards"]) > 3
    added = [write(tmp_path / "more", name(n), article(n)) for n in range(1, 120, 12)]  # odd: into every shard
    pack(raw / "part-3.tar.gz", added, "w:gz")
    opened["listed"].clear(), opened["read"].clear(), normalised.clear()
    run(raw, out)
    expected = sorted(f"part-3.tar.gz/{file.name}" for file in added)
    assert sorted(opened["read"]) == expected  # not the old members beside them: their contents are known
    assert sorted(normalised) == expected
    assert_as_fresh(raw, out)


@pytest.mark.parametrize("damage", ["bytes", "rows", "gone"])
def test_a_tar_listing_not_as_the_index_says_is_not_taken(tmp_path, normalised, opened, damage):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 2, gzip=False)
    run(raw, out)
    listings = out / "archives.parquet"
    if damage == "bytes":
        listings.write_bytes(listings.read_bytes() + b"\0")
    elif damage == "rows":  # a readable listing whose members lie about where their bytes are
        table = pq.read_table(listings)
        offsets = pa.array([o + 512 for o in table["offset"].to_pylist()], pa.int64())
        pq.write_table(table.set_column(table.schema.get_field_index("offset"), "offset", offsets), listings)
    else:
        listings.unlink()
    opened["listed"].clear()
    run(raw, out)
    assert sorted(opened["listed"]) == ["part-0.tar", "part-1.tar"]
    assert_as_fresh(raw, out)


def test_a_tar_shard_written_while_it_is_read_is_listed_again_next_time(tmp_path, monkeypatch):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 2, gzip=False)
    before = (raw / "part-1.tar").read_bytes()
    write(loose, name(25), article(25) + " An edit.")
    pack(tmp_path / "edited.tar", sorted(loose.iterdir())[20:40])
    hashed = walk._archive_sha256

    def rewriting(shard):  # the shard is written in place (same inode) once it is hashed
        found = hashed(shard)
        if shard[0].endswith("part-1.tar"):
            with open(shard[0], "r+b") as f:
                f.write((tmp_path / "edited.tar").read_bytes())
        return found

    monkeypatch.setattr(walk, "_archive_sha256", rewriting)
    run(raw, out)
    monkeypatch.undo()
    (raw / "part-1.tar").write_bytes(before)  # the bytes that were hashed, back again
    run(raw, out)
    assert_as_fresh(raw, out)


def rewrite_listings(out, change) -> None:
    """``change`` the rows of the previous output's archives.parquet, and the index's sha256 of it to match."""
    listings = out / "archives.parquet"
    table = change(pq.read_table(listings))
    pq.write_table(table, listings)
    index = json.loads((out / "shards.json").read_text())
    index["archives"] = hashlib.sha256(listings.read_bytes()).hexdigest()
    (out / "shards.json").write_text(json.dumps(index))


def column(table, name, values):
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, table.schema.field(name).type))


@pytest.mark.parametrize(
    "change",
    [
        lambda t: column(t, "name", [None] + t["name"].to_pylist()[1:]),
        lambda t: column(t, "offset", [o + 1 for o in t["offset"].to_pylist()]),
        lambda t: column(t, "size", [-1] + t["size"].to_pylist()[1:]),
        lambda t: column(t, "kind", ["fifo"] + t["kind"].to_pylist()[1:]),
        lambda t: column(t, "content", ["not a sha256"] + t["content"].to_pylist()[1:]),
        lambda t: t.take(list(range(t.num_rows))[::-1]),  # unsorted
    ],
)
def test_a_tar_listing_out_of_shape_is_not_taken(tmp_path, opened, change):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 2, gzip=False)
    run(raw, out)
    rewrite_listings(out, change)
    opened["listed"].clear()
    run(raw, out)
    assert sorted(opened["listed"]) == ["part-0.tar", "part-1.tar"]
    assert_as_fresh(raw, out)


def test_a_folder_planted_for_a_previous_file_is_no_file(tmp_path):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 1, gzip=False)
    run(raw, out)
    (out / "archives.parquet").unlink()
    (out / "archives.parquet").mkdir()
    run(raw, out)
    assert_as_fresh(raw, out)


def test_a_second_run_reads_no_unchanged_tar_shard_nor_kept_shard_to_check_it(tmp_path, monkeypatch):
    loose, raw, out = tmp_path / "loose", tmp_path / "raw", tmp_path / "out"
    packed(loose, raw, 3)
    for path in raw.iterdir():  # as shards written long ago: old enough for the state to keep their hashes
        os.utime(path, (1e9, 1e9))
    run(raw, out)  # hashes the tar shards; the shards it writes are kept as written (core.state)
    hashed, real = [], files.hash_stream

    def counted(f, *args):
        hashed.append(os.path.basename(os.readlink(f"/proc/self/fd/{f.fileno()}")))  # opened by name or by fd
        return real(f, *args)

    monkeypatch.setattr(files, "hash_stream", counted)
    run(raw, out)
    assert hashed == []
    assert_as_fresh(raw, out)
    with open(raw / "part-1.tar.gz", "r+b") as f:  # in place, at the same size: read and hashed again
        f.seek(100)
        f.write(b"\0")
    run(raw, out)
    assert "part-1.tar.gz" in hashed
    assert_as_fresh(raw, out)


HOSTILE_ROWS = {
    "counts null": {"counts": None},
    "a count not a number": {"counts": {"lang": {"en": "many"}}},
    "counts a list": {"counts": [1, 2]},
    "rows a string": {"rows": "3"},
    "rows negative": {"rows": -1},
    "rows true": {"rows": True},
    "rejected null": {"rejected": None},
    "a rejected path not a string": {"rejected": [{"path": 1, "reason": "r", "detail": "d"}]},
    "a rejected row of other fields": {"rejected": [{"path": "p", "why": "r"}]},
    "a filtered value not a number": {
        "filtered": [{"id": "i", "path": "p", "reason": "r", "value": "high", "detail": "d"}]
    },
    "span null": {"span": None},
    "an ordinal not a number": {"span": [["first", "a"], [1, "b"]]},
    "a span path not a string": {"span": [[0, 5], [1, "b"]]},
    "key a number": {"key": 5},
    "row a list": None,
}


@pytest.mark.parametrize("edit", list(HOSTILE_ROWS))
def test_an_index_row_of_another_shape_is_not_taken_and_nothing_crashes(tmp_path, normalised, edit):
    """Whatever a hand-edited ``shards.json`` holds, normalize runs through and writes what a fresh run writes."""
    raw, out = tmp_path / "raw", tmp_path / "n"
    for n in range(30):
        write(raw, name(n), article(n))
    run(raw, out)
    index = json.loads((out / "shards.json").read_text())
    if HOSTILE_ROWS[edit] is None:
        index["shards"][1] = list(index["shards"][1].values())
    else:
        index["shards"][1].update(HOSTILE_ROWS[edit])
    (out / "shards.json").write_text(json.dumps(index))
    normalised.clear()
    run(raw, out)
    assert len(normalised) == 30  # the index is not taken at all
    assert_as_fresh(raw, out)


def test_an_index_row_that_accounts_for_other_sources_is_normalised_again(tmp_path, normalised):
    """A row of the right shape that lists one reject more than its shard has sources is not taken as it
    stands (metrics.json would no longer add up): that shard alone is normalised again."""
    raw, out = tmp_path / "raw", tmp_path / "n"
    for n in range(30):
        write(raw, name(n), article(n))
    run(raw, out)
    index = json.loads((out / "shards.json").read_text())
    index["shards"][1]["rejected"].append({"path": "made-up.txt", "reason": "empty", "detail": "made up"})
    (out / "shards.json").write_text(json.dumps(index))
    normalised.clear()
    run(raw, out)
    assert 0 < len(normalised) < 30
    assert_as_fresh(raw, out)
