"""The state of known hashes: a file's sha256 is taken from it only while the file's stat is the one it was hashed
with, and a state that cannot be used is left out, in bounded time, never trusted."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from broadsheet.core import files, state

OLD = time.time() - 3600


def old_file(path, data: bytes):
    """``data`` at ``path``, its mtime an hour ago: old enough to be kept."""
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


@pytest.fixture
def hashed(monkeypatch):
    """The files ``files.hash_stream`` read, by name."""
    read, real = [], files.hash_stream

    def counting(f, *args):
        read.append(os.path.basename(f.name))
        return real(f, *args)

    monkeypatch.setattr(files, "hash_stream", counting)
    return read


def known(path, ctime: bool = False) -> str:
    with open(path, "rb") as f:
        return files.known_sha256(f, ctime)


def test_an_old_file_is_read_once_then_known_by_its_stat(tmp_path, hashed):
    path = old_file(tmp_path / "a", b"some bytes")
    assert known(path) == known(path) == hashlib.sha256(b"some bytes").hexdigest()
    assert hashed == ["a"]


def test_a_file_written_again_is_read_again_even_at_the_same_size(tmp_path, hashed):
    path = old_file(tmp_path / "a", b"some bytes")
    known(path)
    with open(path, "r+b") as f:  # in place: the same inode and size, a new mtime
        f.write(b"SOME")
    assert known(path) == hashlib.sha256(b"SOME bytes").hexdigest()
    assert hashed == ["a", "a"]


def test_an_input_written_again_with_its_mtime_set_back_is_read_again(tmp_path, hashed):
    path = old_file(tmp_path / "a", b"some bytes")
    known(path, ctime=True)
    path.unlink()
    old_file(path, b"other byte")  # anew, at the same size, its mtime the old one's: as ``tar x`` leaves it
    with open(path, "r+b") as f:
        f.write(b"OTHER")
    os.utime(path, (OLD, OLD))  # and in place, its mtime set back
    assert known(path, ctime=True) == hashlib.sha256(b"OTHER byte").hexdigest()
    assert hashed == ["a", "a"]


def test_a_recent_file_is_not_kept(tmp_path, hashed):
    path = tmp_path / "a"
    path.write_bytes(b"just written")  # could be written again within the clock's resolution
    known(path), known(path)
    assert hashed == ["a", "a"]


def test_previous_bytes_checked_against_an_index_take_the_known_hash(tmp_path, hashed, monkeypatch):
    data = b"a previous output's shard"
    path = old_file(tmp_path / "part.parquet", data)
    digest = hashlib.sha256(data).hexdigest()
    sha256s = []
    real = hashlib.sha256
    monkeypatch.setattr(files.hashlib, "sha256", lambda *a: sha256s.append(1) or real(*a))
    assert files.previous_bytes(path, digest) == files.previous_bytes(path, digest) == data
    assert len(sha256s) == 1
    assert files.previous_bytes(path, "0" * 64) is None  # known, but not the sha256 the index gives
    with open(path, "r+b") as f:
        f.write(b"A")
    assert files.previous_bytes(path, digest) is None


@pytest.mark.parametrize("planted", ["garbage", "empty", "folder", "fifo", "link", "table", "fifo-wal", "fifo-shm"])
def test_a_state_that_cannot_be_used_is_left_out(tmp_path, private_cache, hashed, planted):
    target = private_cache / state.FILE
    private_cache.mkdir()
    if planted.startswith("fifo-"):
        os.mkfifo(f"{target}-{planted[5:]}")
    elif planted == "garbage":
        target.write_bytes(b"not SQLite at all\n" * 100)
    elif planted == "empty":
        target.write_bytes(b"")
    elif planted == "folder":
        target.mkdir()
    elif planted == "fifo":
        os.mkfifo(target)
    elif planted == "link":
        (tmp_path / "elsewhere").write_bytes(b"")
        target.symlink_to(tmp_path / "elsewhere")
    else:  # SQLite, but another table of that name
        with sqlite3.connect(target) as db:
            db.execute("CREATE TABLE files (name TEXT)")
    path = old_file(tmp_path / "a", b"some bytes")
    assert known(path) == known(path) == hashlib.sha256(b"some bytes").hexdigest()
    assert hashed == (["a"] if planted in ("empty", "table") else ["a", "a"])  # an SQLite file is begun again


@pytest.mark.parametrize("columns", [4, 6, 7])
def test_a_table_of_another_layout_under_this_version_is_left_out(tmp_path, private_cache, hashed, columns):
    path = old_file(tmp_path / "a", b"some bytes")
    st = os.stat(path)
    private_cache.mkdir()
    with sqlite3.connect(private_cache / state.FILE) as db:  # the version this code writes, another table
        names = ["device", "inode", "size", "mtime", "ctime", "sha256", "kept"][:columns]
        db.execute(f"CREATE TABLE files ({', '.join(names)})")
        row = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, "0" * 64, 1)[:columns]
        db.execute(f"INSERT INTO files VALUES ({', '.join('?' * columns)})", row)
        db.execute(f"PRAGMA user_version = {state.VERSION}")
    assert known(path, ctime=True) == known(path) == hashlib.sha256(b"some bytes").hexdigest()
    assert hashed == ["a", "a"]


def test_a_state_of_another_layout_is_begun_again(tmp_path, private_cache, hashed):
    private_cache.mkdir()
    with sqlite3.connect(private_cache / state.FILE) as db:  # as an earlier version left it
        db.execute("CREATE TABLE files (device, inode, size, mtime, ctime, sha256, kept)")
        db.execute("INSERT INTO files VALUES (1, 2, 3, 4, 5, ?, 6)", ("0" * 64,))
        db.execute("PRAGMA user_version = 0")
    path = old_file(tmp_path / "a", b"some bytes")
    assert known(path) == known(path) == hashlib.sha256(b"some bytes").hexdigest()
    assert hashed == ["a"]


@pytest.mark.parametrize(
    "value", ["not a sha256", "0" * 63, 12345, b"\x00" * 64, None, hashlib.sha256(b"another file").hexdigest()]
)
def test_a_kept_value_that_is_not_the_one_kept_is_not_taken(tmp_path, private_cache, hashed, value):
    path = old_file(tmp_path / "a", b"some bytes")
    known(path)
    with sqlite3.connect(private_cache / state.FILE) as db:
        db.execute("UPDATE files SET sha256 = ?", (value,))
    assert known(path) == hashlib.sha256(b"some bytes").hexdigest()
    assert hashed == ["a", "a"]


@pytest.mark.parametrize("made_by", ["broadsheet", "another"])
def test_a_state_another_process_holds_locked_is_left_out_at_once(tmp_path, private_cache, hashed, made_by):
    if made_by == "broadsheet":  # in WAL mode: reading goes on, keeping a hash waits for the lock
        known(old_file(tmp_path / "first", b"first"))
    else:  # a rollback journal, locked: neither
        private_cache.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)",
            str(private_cache / state.FILE),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        state._states.clear()  # as a new run finds it
        path = old_file(tmp_path / "a", b"some bytes")
        started = time.monotonic()
        assert known(path) == known(path) == hashlib.sha256(b"some bytes").hexdigest()
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert hashed[-2:] == ["a", "a"]


def test_the_state_forgets_the_oldest_past_its_limit(tmp_path, private_cache, monkeypatch):
    monkeypatch.setattr(state, "LIMIT", 4)
    paths = [old_file(tmp_path / f"f{n}", bytes([n])) for n in range(6)]
    for path in paths:
        known(path)
    state._states.clear()
    known(paths[0])  # opening it again prunes it
    with sqlite3.connect(private_cache / state.FILE) as db:
        assert db.execute("SELECT count(*) FROM files").fetchone()[0] <= 4


def test_every_shard_a_stage_writes_is_known_as_written(tmp_path):
    from broadsheet import dedup, publish
    from broadsheet.core.params import PublishParams
    from broadsheet.publish.stage import Inputs
    from helpers import normalized_corpus, settings

    normalized = normalized_corpus(tmp_path, 40, shard_rows=10)
    params = settings(PublishParams(shard_rows=8), workers=1)
    dedup.run(normalized, tmp_path / "d", params, progress=False)
    publish.run(Inputs(normalized, duplicates=tmp_path / "d"), tmp_path / "p", params, progress=False)
    written = [
        *(normalized / "data").iterdir(),
        *(tmp_path / "d" / "keys").iterdir(),
        *(tmp_path / "p").glob("*/*.arrow"),
        *(tmp_path / "p" / "data").iterdir(),
        *(tmp_path / "p" / "manifest").iterdir(),
    ]
    assert len(written) >= 15
    for path in written:
        assert state.default().sha256(os.stat(path)) == hashlib.sha256(path.read_bytes()).hexdigest(), path
