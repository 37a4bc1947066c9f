"""Writing outputs crash-safely and byte-deterministically."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from broadsheet.core import interrupts, state
from broadsheet.core.errors import BroadsheetError, failing_as, reason

MARKER = ".broadsheet"
"""The file in every folder a broadsheet command writes, naming the command: only such a folder is replaced."""


@dataclass(frozen=True)
class Owner:
    """The command that writes a kind of folder, and how to recognise its folders."""

    command: str
    schema: str
    """What the folder holds, e.g. ``document.v2``."""
    signature: str
    """A name only this command's folders hold: recognises those written before folders had a marker."""
    names: frozenset[str]
    """Every name this command writes at the top of its folder."""

    def marker(self) -> dict:
        return {"command": self.command, "schema": self.schema}

    def wrote(self, folder: Path) -> bool:
        """Whether ``folder`` is this command's output: its marker says so, or (written before markers) it
        holds the signature."""
        return _written_by(folder) == self.command or (
            not (folder / MARKER).exists() and (folder / self.signature).exists()
        )


@contextmanager
def atomic_dir(final: str | Path, owner: Owner, force: bool = False) -> Iterator[Path]:
    """Yield an empty folder of this run's own; on success it replaces ``final`` by rename, on failure it is removed.

    A run killed at any point leaves the previous ``final`` whole, or (for the
    instant between two renames) no ``final`` at all; never a half-written one.
    ``final`` is replaced only if ``owner`` wrote it (or ``force``): it is
    missing, empty, or holds the owner's marker. A lock on ``final`` makes a
    second run at the same time fail at once; a symlinked ``final`` is written
    where it points, and stays a link.
    """
    final = Path(os.path.realpath(final))
    if not force:
        _check_ours(final, owner)  # before the lock, so a refusal leaves no lock file beside someone's folder
    with failing_as(f"cannot write output folder {final}"):
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(final)
    try:
        if not force:
            _check_ours(final, owner)  # again, under the lock: another run may have written it meanwhile
        with failing_as(f"cannot write output folder {final}"):
            for kind in ("partial", "old"):  # left by a run that was killed: we hold the lock, so no run owns them
                for leftover in final.parent.glob(f".{glob.escape(final.name)}.broadsheet-{kind}*"):
                    shutil.rmtree(leftover)
            partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.broadsheet-partial-", dir=final.parent))
            partial.chmod(0o777 & ~_umask())  # mkdtemp makes it private; an output folder is as any other
        try:
            yield partial
            interrupts.check()  # a Ctrl-C swallowed on the way is no finished output
            write_json(partial / MARKER, owner.marker())
            old = None
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.broadsheet-old-", dir=final.parent))
                os.rename(final, old / final.name)
            os.rename(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        os.close(lock)


def guard_written_folder(path: str | Path, force: bool = False) -> None:
    """Refuse to write ``path`` inside a folder a broadsheet command wrote (DVC tracks it, and the next run
    replaces it whole), unless ``force``."""
    if force:
        return
    for folder in Path(os.path.realpath(path)).parents:
        if (folder / MARKER).is_file():
            raise BroadsheetError(
                f"{path} is inside {folder}, an output a broadsheet stage wrote (and DVC tracks): "
                "write elsewhere, or pass --force"
            )


def _written_by(folder: Path) -> str | None:
    """The command a folder's marker names, if it has a readable one."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock(final: Path) -> int:
    """An exclusive lock on ``final`` for this process (held until its descriptor is closed, or the process ends)."""
    fd = os.open(final.parent / f".{final.name}.broadsheet-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BroadsheetError(
            f"another broadsheet run is writing {final} now: let it finish, or choose another folder"
        ) from None
    return fd


def _check_ours(final: Path, owner: Owner) -> None:
    """Refuse to replace a folder that ``owner`` did not write."""
    if not final.exists():
        return
    if not final.is_dir():
        raise BroadsheetError(f"{final} exists and is not a folder: choose another output folder")
    with failing_as(f"cannot read output folder {final}"):
        entries = sorted(os.listdir(final))
    if not entries:
        return
    written_by = _written_by(final)
    others = sorted(set(entries) - owner.names)
    if not others and (written_by == owner.command or (written_by is None and owner.signature in entries)):
        return  # its own output (one from before folders had a marker holds the owner's signature)
    if written_by and written_by != owner.command:
        what = f"was written by broadsheet {written_by}"
    else:
        what = f"holds files broadsheet did not write ({(others or entries)[0]}, ...)"
    raise BroadsheetError(
        f"{final} {what}: refusing to replace it with the output of broadsheet {owner.command} "
        "(choose another folder, or pass --force to replace it anyway)"
    )


def check_apart(out: str | Path, inputs: list[str | Path]) -> None:
    """Refuse an output folder that is, holds or sits inside an input: replacing it would destroy or re-read input."""
    out_real = Path(out).resolve()
    for item in inputs:
        real = Path(item).resolve()
        if out_real == real or out_real.is_relative_to(real) or real.is_relative_to(out_real):
            raise BroadsheetError(f"output folder {out} overlaps input {item}: choose a folder outside it")


def keep(previous: Path, path: Path) -> None:
    """Put the previous output's file ``previous`` at ``path`` of the new one: a hard link where the file system
    allows, so it keeps its inode and time and DVC's state knows its hash without reading it again; else a copy.
    OSError if ``previous`` is no regular file (a link, a FIFO, a device planted there is not taken).

    Safe because no output file is ever written in place: a run writes new files and renames folders. So a
    ``path`` that exists already is FileExistsError, never written over (it may be a link to a previous file);
    on any error nothing is left at ``path`` by this call.
    """
    if not stat.S_ISREG(os.lstat(previous).st_mode):
        raise OSError(f"{previous} is not a regular file")
    try:
        os.link(previous, path)
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # no hard links here: a copy
    with open(previous, "rb") as source, open(path, "xb") as target:
        try:
            shutil.copyfileobj(source, target)
        except BaseException:
            path.unlink(missing_ok=True)  # the copy begun here: on an error, nothing of it is left
            raise


@contextmanager
def previous_file(path: Path) -> Iterator[BinaryIO | None]:
    """A previous output's file ``path``, open for reading, if it is a regular file; None if it is missing, is a
    link, a FIFO or a device (planted there, it must neither hang a run nor lead it out of the folder)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        yield None
        return
    if not stat.S_ISREG(os.fstat(handle).st_mode):  # a folder opens too, but fdopen refuses it
        os.close(handle)
        yield None
        return
    with os.fdopen(handle, "rb") as f:
        yield f


def previous_bytes(path: Path, sha256: str | None = None) -> bytes | None:
    """The bytes of a previous output's file ``path`` if it is a regular file (``previous_file``) and, given
    ``sha256``, still the file an index vouches for (hashed, unless ``core.state`` knows it as it is); else
    None."""
    with previous_file(path) as f:
        if f is None:
            return None
        before = os.fstat(f.fileno())
        data = f.read()
        unchanged = _same(os.fstat(f.fileno()), before)
    if sha256 is None or (unchanged and state.default().sha256(before) == sha256):
        return data
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    if unchanged:
        state.default().keep(before, sha256)
    return data


def write_or_keep(path: Path, data, sha256: str, previous: Path | None) -> str:
    """``write_hashed``, unless the previous output's file ``previous`` holds those bytes: then that file is put
    at ``path`` (``keep``: DVC's state knows its hash) and checked there."""
    if previous is not None and keep_checked(previous, path, sha256):
        return sha256
    return write_hashed(path, data, sha256)


def keep_checked(previous: Path, path: Path, sha256: str) -> bool:
    """Whether ``keep`` put ``previous`` at ``path`` with bytes of that ``sha256`` (checked where it now is);
    nothing of it is left there if not."""
    try:
        keep(previous, path)
    except OSError:
        return False
    try:
        with open(path, "rb") as f:
            if known_sha256(f) == sha256:
                return True
    except OSError:
        pass
    path.unlink(missing_ok=True)
    return False


def write_hashed(path: Path, data, sha256: str | None = None) -> str:
    """Write ``data`` (bytes, or an Arrow buffer) to the new file ``path``; return its sha256 (``sha256`` if
    given: the bytes' own, taken where they were made), taken from the bytes in hand rather than read back, and
    kept in ``core.state`` as the file's."""
    view = memoryview(data)
    try:
        f = open(path, "xb")  # a new file: one there is another's (see ``keep``), which must not be written over
    except FileExistsError:
        raise BroadsheetError(f"{path} is written twice in one run (an index edited by hand?): run again") from None
    with f:
        f.write(view)
        f.flush()
        written = os.fstat(f.fileno())
    sha256 = sha256 or hashlib.sha256(view).hexdigest()
    state.default().keep(written, sha256, written=True)
    return sha256


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hash_stream(f)


def known_sha256(f, ctime: bool = False) -> str:
    """The sha256 of the open file ``f``: the one the state (``core.state``) keeps for it as it is (its ctime
    too, with ``ctime``: for an input, which no run links), else read from its start (and kept, if it did not
    change meanwhile)."""
    before = os.fstat(f.fileno())
    if (found := state.default().sha256(before, ctime)) is not None:
        return found
    digest = hash_stream(f)
    if _same(os.fstat(f.fileno()), before):
        state.default().keep(before, digest)
    return digest


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)


def hash_stream(f, algorithm: str = "sha256") -> str:
    """The hex digest of what is left to read of the open file ``f``, read a MiB at a time."""
    digest = hashlib.new(algorithm, usedforsecurity=algorithm != "md5")
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def dumps_json(obj, sort_keys: bool = True) -> str:
    """Canonical JSON text: sorted keys (unless the order means something), two-space indent, UTF-8, final newline."""
    return json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"


def write_json(path: str | Path, obj, sort_keys: bool = True) -> None:
    """``dumps_json(obj)`` into ``path``, written as it is encoded (a large index is never one string)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=sort_keys, ensure_ascii=False)
        f.write("\n")


def read_json(path: str | Path):
    """A JSON file's data; a one-line error when it cannot be read or parsed, or is no regular file (a FIFO
    would block the read)."""
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise BroadsheetError(f"cannot read {path}: not a regular file")
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        raise BroadsheetError(f"cannot read {path}: {reason(e)}") from None
