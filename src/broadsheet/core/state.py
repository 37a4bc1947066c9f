"""The sha256s of files this machine has hashed, kept by their stat, as DVC's state and git's index keep theirs.

Checking a file against the sha256 an index gives it means reading it: on a second run at a million documents,
gigabytes of raw tar shards and of the previous outputs' shards. Once hashed, a file's sha256 is kept against its
device, inode, size and mtime (and, for inputs, ctime), and given back while those stay the same; a file written
again (anew or in place) is hashed again.

A sha256 read back is kept only for a file whose mtime is RACY_NS old, so that a write after the hash cannot
leave the mtime as it was (git's "racy" files). A file a stage writes is kept as it is written
(``files.write_hashed``), from the bytes in hand: nothing else writes into a run's own folder. The ctime, which
no one can set, also tells a file written again with its mtime set back (``tar x``, ``rsync -t``, ``cp -p``
onto a reused inode); but a hard link to a kept output file (``files.keep``) changes it too, so an output's
ctime is not checked: an output written in place with its mtime set back by hand fools the state, as it fools
DVC's.

The state is one SQLite file in broadsheet's cache folder (``cache_root``). Whatever is wrong with it (it cannot
be opened or read, is no SQLite file, is a link or a FIFO planted there, another run holds it locked) leaves it
out for the run: files are hashed, and nothing is taken from a state that cannot be read.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import threading
import time
from pathlib import Path

RACY_NS = 2_000_000_000
"""How old a file's mtime must be for its sha256 to be kept: more than any file system's time resolution."""
LIMIT = 1_000_000
"""Files the state keeps at most; past that, the oldest-kept half is forgotten."""
FILE = "state.sqlite3"
VERSION = 1
"""The layout of its table: a state of another layout (another version's) is begun again."""
SHA256 = re.compile("[0-9a-f]{64}")
COLUMNS = "device, inode, size, mtime, ctime, sha256"
"""What a row says of a file, in the order its checksum (``_check``) takes them."""


def cache_root() -> Path:
    """broadsheet's cache folder: ``$BROADSHEET_CACHE``, else ``$XDG_CACHE_HOME/broadsheet``, else
    ``~/.cache/broadsheet``."""
    base = os.environ.get("BROADSHEET_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "broadsheet"
    )
    return Path(base)


class State:
    """The state at ``path``, opened on first use; safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._opened_in: int | None = None
        """The process that opened it: a connection is not taken across a fork."""

    def sha256(self, st: os.stat_result, ctime: bool = False) -> str | None:
        """The sha256 kept for the file whose stat is ``st``, if its stat is still the one it was hashed with
        (its ctime too, with ``ctime``)."""
        found = self._query(f"SELECT {COLUMNS}, checksum FROM files WHERE device = ? AND inode = ?", st)
        if not found or found[0][2:4] != (st.st_size, st.st_mtime_ns) or (ctime and found[0][4] != st.st_ctime_ns):
            return None
        *row, checksum = found[0]
        if not isinstance(row[5], str) or not SHA256.fullmatch(row[5]) or checksum != _check(tuple(row)):
            return None  # not a row this code wrote: damaged (a crash, a file system that breaks SQLite)
        return row[5]

    def keep(self, st: os.stat_result, sha256: str, written: bool = False) -> None:
        """Keep ``sha256`` for the file whose stat, while it was hashed, was ``st``: unless it is too recent,
        or ``written`` (this process has just written those bytes into a new file of a folder of its own)."""
        if written or time.time_ns() - st.st_mtime_ns > RACY_NS:
            row = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha256)
            self._query(
                f"INSERT OR REPLACE INTO files ({COLUMNS}, checksum, kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, _check(row), time.time_ns()),
            )

    def _query(self, sql: str, values) -> list | None:
        if isinstance(values, os.stat_result):
            values = (values.st_dev, values.st_ino)
        with self._lock:
            db = self._open()
            if db is None:
                return None
            try:
                return db.execute(sql, values).fetchall()
            except OverflowError:  # an inode past SQLite's 64-bit integers: that file is hashed
                return None
            except sqlite3.Error:  # locked by another run, damaged meanwhile: left out from now on
                self._close()
                return None

    def _open(self) -> sqlite3.Connection | None:
        if self._opened_in == os.getpid():
            return self._db
        self._db, self._opened_in = None, os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):  # SQLite's own files beside it too
                try:
                    if not stat.S_ISREG(os.lstat(f"{self.path}{suffix}").st_mode):  # a FIFO would hang SQLite
                        return None
                except FileNotFoundError:
                    pass
            self._db = sqlite3.connect(self.path, timeout=0.2, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")  # readers and one writer at once; no fsync per write
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("PRAGMA user_version").fetchone()[0] != VERSION:  # new, or of another layout
                self._db.execute("DROP TABLE IF EXISTS files")
                self._db.execute(
                    "CREATE TABLE files (device INTEGER, inode INTEGER, size INTEGER, mtime INTEGER, ctime INTEGER,"
                    " sha256 TEXT, checksum TEXT, kept INTEGER, PRIMARY KEY (device, inode))"
                )
                self._db.execute(f"PRAGMA user_version = {VERSION}")
            self._db.execute("COMMIT")
            (count,) = self._db.execute("SELECT count(*) FROM files").fetchone()
            if count > LIMIT:
                self._db.execute(
                    "DELETE FROM files WHERE rowid IN (SELECT rowid FROM files ORDER BY kept LIMIT ?)",
                    (count - LIMIT // 2,),
                )
        except (OSError, sqlite3.Error):
            self._close()
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None


def _check(row: tuple) -> str:
    """A row's checksum: a row damaged, or another file's, is not taken."""
    return hashlib.blake2b(repr(row).encode(), digest_size=8).hexdigest()


_states: dict[str, State] = {}


def default() -> State:
    """This process's state in ``cache_root()`` (as the environment says now: tests each give their own)."""
    path = str(cache_root() / FILE)
    if path not in _states:
        _states[path] = State(path)
    return _states[path]
