"""The walk and the read: what the walk saw is what is read, names stay distinct, any depth, any listing order."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pyarrow as pa
import pytest

from broadsheet import normalize
from broadsheet.core.params import FieldsParams, NormalizeParams
from broadsheet.inputs import read as reading
from broadsheet.inputs import walk
from broadsheet.inputs.names import identify
from helpers import article, key, normalized_records, settings, tree_bytes, write


def planned(root, name: str):
    plan = walk.plan([root], NormalizeParams())
    return next(s for s in plan.sources(range(len(plan))) if s.relpath == name)


def test_a_file_swapped_for_a_link_after_the_walk_is_rejected_not_read(tmp_path):
    secret = write(tmp_path, "outside/secret.txt", "Secret\nNot part of the corpus at all, never to be published.")
    write(tmp_path / "raw", "a.txt", article(1))
    source = planned(tmp_path / "raw", "a.txt")
    os.unlink(tmp_path / "raw" / "a.txt")
    os.symlink(secret, tmp_path / "raw" / "a.txt")
    rejected = reading.read(source, 1 << 20, FieldsParams())
    assert rejected.reason == "changed_during_run" and "symbolic link" in rejected.detail


def test_a_file_swapped_for_a_fifo_after_the_walk_is_rejected_at_once(tmp_path):
    write(tmp_path / "raw", "a.txt", article(1))
    source = planned(tmp_path / "raw", "a.txt")
    os.unlink(tmp_path / "raw" / "a.txt")
    os.mkfifo(tmp_path / "raw" / "a.txt")  # open() without O_NONBLOCK would wait for a writer forever
    started = time.monotonic()
    rejected = reading.read(source, 1 << 20, FieldsParams())
    assert rejected.reason == "changed_during_run" and time.monotonic() - started < 5


def test_a_file_replaced_by_another_or_removed_after_the_walk_is_rejected(tmp_path):
    write(tmp_path / "raw", "a.txt", article(1))
    write(tmp_path / "raw", "b.txt", article(2))
    a, b = planned(tmp_path / "raw", "a.txt"), planned(tmp_path / "raw", "b.txt")
    os.replace(write(tmp_path, "new.txt", article(3)), tmp_path / "raw" / "a.txt")  # a new inode under the old name
    os.unlink(tmp_path / "raw" / "b.txt")
    assert reading.read(a, 1 << 20, FieldsParams()).detail == "replaced by another file after the walk"
    assert reading.read(b, 1 << 20, FieldsParams()).detail == "removed after the walk"


def test_a_link_inside_the_tree_is_read_through_its_target(tmp_path):
    write(tmp_path / "raw", "a.txt", article(1))
    os.symlink(tmp_path / "raw" / "a.txt", tmp_path / "raw" / "link.txt")
    assert reading.read(planned(tmp_path / "raw", "link.txt"), 1 << 20, FieldsParams()) == article(1).encode()


def records(out) -> dict[str, str]:
    return {r["source"]["path"]: r["id"] for r in normalized_records(out)}


def normalized_in_listing_order(tmp_path, monkeypatch, listing: str) -> dict[str, str]:
    """Normalise four files whose names differ only in escaping or content, listed as the file system lists
    them or reversed; return the output's files' hashes."""
    raw = tmp_path / "raw"
    raw.mkdir(parents=True)
    (raw / os.fsdecode(b"bad\xff.txt")).write_text(article(1))  # a byte that is not UTF-8
    (raw / "bad\\xff.txt").write_text(article(2))  # the four characters \ x f f
    (raw / "same.txt").write_text(article(3))
    (raw / "copy.txt").write_text(article(3))
    scandir = os.scandir

    class Listed:
        def __init__(self, path):
            self.entries = sorted(scandir(path), key=lambda e: os.fsencode(e.name), reverse=listing == "reversed")

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *exc):
            return False

    with monkeypatch.context() as patch:
        patch.setattr(walk.os, "scandir", Listed)
        normalize.run([raw], tmp_path / "out", settings(workers=1), progress=False)
    found = records(tmp_path / "out")
    assert set(found) == {"bad\\xff.txt", "bad\\\\xff.txt", "same.txt", "copy.txt"}
    assert len(set(found.values())) == 4
    return tree_bytes(tmp_path / "out")


def test_names_that_differ_only_in_escaping_stay_distinct_and_the_listing_order_changes_nothing(tmp_path, monkeypatch):
    forwards = normalized_in_listing_order(tmp_path / "a", monkeypatch, "forwards")
    assert normalized_in_listing_order(tmp_path / "b", monkeypatch, "reversed") == forwards


def test_a_folder_500_levels_deep_is_walked(tmp_path):
    deep = tmp_path / "raw" / os.path.join(*["d"] * 500)
    write(deep, "000_00000000000000aa.txt", article(1))
    metrics = normalize.run([tmp_path / "raw"], tmp_path / "out", settings(workers=1), progress=False)
    assert metrics["documents"] == 1 and metrics["input_files"] == 1


def test_a_very_long_ordinal_is_just_a_name():
    assert identify("1" * 5000 + "_0123456789abcdef.txt")[1] is None
    assert identify("9" * 19 + "_0123456789abcdef.txt")[1] is None
    assert identify("9" * 18 + "_0123456789abcdef.txt") == ("0123456789abcdef", 10**18 - 1)


def test_a_tar_member_with_a_5000_digit_ordinal_becomes_a_record(tmp_path):
    (tmp_path / "raw").mkdir()
    with tarfile.open(tmp_path / "raw" / "shard.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        data = article(1).encode()
        info = tarfile.TarInfo("1" * 5000 + "_0123456789abcdef.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    metrics = normalize.run([tmp_path / "raw"], tmp_path / "out", settings(workers=1), progress=False)
    assert metrics["documents"] == 1


def test_a_tar_shard_swapped_after_the_walk_has_its_members_rejected_not_read(tmp_path):
    (tmp_path / "raw").mkdir()
    for name, folder in (("shard.tar", tmp_path / "raw"), ("other.tar", tmp_path)):
        with tarfile.open(folder / name, "w") as tar:
            data = article(1 if folder != tmp_path else 2).encode()
            info = tarfile.TarInfo("000_00000000000000aa.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    source = planned(tmp_path / "raw", "shard.tar/000_00000000000000aa.txt")
    os.unlink(tmp_path / "raw" / "shard.tar")
    os.symlink(tmp_path / "other.tar", tmp_path / "raw" / "shard.tar")
    rejected = reading.read(source, 1 << 20, FieldsParams())
    assert rejected.reason == "changed_during_run" and "symbolic link" in rejected.detail


def test_a_task_sends_its_sources_as_columns_and_the_worker_makes_the_same_sources(tmp_path):
    """Files in two folders and members of a tar shard, in one span: the columns a task pickles to a worker
    (``Plan.rows``) give back the Sources the plan holds, each with its own container's path and kind."""
    import pickle

    raw = tmp_path / "raw"
    write(raw, "a/001_x.txt", article(1))
    write(raw, "b/003_z.txt", article(3))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, n in (("002_y.txt", 2), ("004_w.txt", 4)):
            data = article(n).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (raw / "shard.tar.gz").write_bytes(buffer.getvalue())
    plan = walk.plan([raw], NormalizeParams())
    everything = range(len(plan))
    sent = pickle.loads(pickle.dumps(plan.rows(everything))).sources()
    assert sent == plan.sources(everything) and len(sent) == 4
    assert {s.kind for s in sent} == {"file", "tar"} and len({s.path for s in sent}) == 3
    assert [s.relpath for s in plan.sources(range(1, 3))] == [s.relpath for s in sent[1:3]]


def _listing(names_sizes_kinds) -> pa.Table:
    from broadsheet.inputs import archives

    members = [
        archives.Member(name, kind, size, 512 * (1 + 4 * i), "target" if kind != archives.REGULAR else "")
        for i, (name, size, kind) in enumerate(names_sizes_kinds)
    ]
    table = walk.listing_table(members)
    contents = [None if i % 3 else f"{i:064x}" for i in range(len(members))]
    return table.set_column(5, "content", pa.array(contents, pa.string()))


def _planned(table, params, fast: bool):
    candidates, result = walk._Candidates(), walk.Plan()
    if fast:
        walk._add_listed("/raw/s.tar.gz", "sub/s.tar.gz", (3, 4), table, params, candidates, result)
    else:
        members, contents = walk._members_of(table)
        walk._add_archive(
            "/raw/s.tar.gz", "sub/s.tar.gz", (3, 4), members, None, {}, contents, params, candidates, result
        )
    return candidates.table(), result.rejected, result.input_files


KEYED = [(f"{n:07d}_{key(n)}.txt", 100 + n, "file") for n in range(40)]


@pytest.mark.parametrize(
    "odd",
    [
        None,
        ("0000041_ABCDEF0123456789.txt", 10, "file"),  # upper-case hex: the id is lower-cased either way
        ("dir/0000042_abcdef0123456789.txt", 10, "file"),
        ("notes.txt", 10, "file"),
        ("0000043_abcdef0123456789.txt", 1 << 30, "file"),  # too large
        ("0000044_abcdef0123456789.txt", 0, "symlink"),  # a symbolic link
        ("٠٤٥_abcdef0123456789.txt", 10, "file"),  # digits Python's \d takes and RE2's does not
        ("0000046_abcdef0123456789.txt\n", 10, "file"),  # Python's $ matches before a last newline
        ("0000047_abcdef0123456789.txt\udcff", 10, "file"),  # a byte that is not UTF-8
        ("0000048_abcdef0123456789.md", 10, "file"),  # a name include does not take
    ],
)
def test_a_tar_shard_listed_before_is_planned_as_its_members_one_by_one_would_be(odd, monkeypatch):
    """The walk takes a listing from a previous run a column at a time when every member is plain; whatever
    the listing, the plan is the one ``_add_archive`` makes member by member."""
    params = NormalizeParams(include=("*.txt",), max_file_bytes=1 << 20)
    table = _listing(KEYED + ([odd] if odd else []) + KEYED[:2])
    slow = _planned(table, params, False)
    if odd is None:  # all plain: no member by member
        monkeypatch.setattr(walk, "_members_of", None)
    fast = _planned(table, params, True)
    assert fast[0].equals(slow[0]) and fast[1:] == slow[1:]
    assert fast[2] == len(table)
