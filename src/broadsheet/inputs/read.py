"""Reading one source's bytes, bounded by ``max_file_bytes``, or the reason they cannot be had.

What is read is what the walk saw: the file is opened without following a
link and without blocking (a FIFO put in its place must not hang the run), and
must still be a regular file with the device and inode the walk recorded.
"""

from __future__ import annotations

import errno
import os
import stat

from broadsheet.core.errors import reason
from broadsheet.core.values import Rejected, Source
from broadsheet.inputs import archives

CHANGED = "changed_during_run"
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Changed(Exception):
    """The file at a source's path is no longer the one the walk planned to read."""


def read(source: Source, max_bytes: int) -> bytes | Rejected:
    """The bytes of ``source``, or why they cannot be had."""
    try:
        if source.member is not None:
            raw = archives.read_member(source.path, *source.member)
        else:
            raw = _read_file(source, max_bytes)
    except Changed as e:
        return Rejected(source.relpath, CHANGED, str(e))
    except archives.ERRORS as e:
        return Rejected(source.relpath, "unreadable", reason(e))
    if source.member is not None and len(raw) != source.member[1]:
        return Rejected(
            source.relpath,
            "unreadable",
            f"the archive ends inside this member ({len(raw)} of {source.member[1]} bytes)",
        )
    if len(raw) > max_bytes:
        return Rejected(source.relpath, "too_large", f"grew past max_file_bytes {max_bytes} while being read")
    return raw


def open_planned(path: str, identity: tuple[int, int] | None) -> int:
    """A descriptor of the regular file at ``path``, if it is still the one of ``identity`` (device, inode)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise Changed("removed after the walk") from None
    except OSError as e:
        if e.errno == errno.ELOOP:  # O_NOFOLLOW met a link where the walk saw a file
            raise Changed("replaced by a symbolic link after the walk") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise Changed("no longer a regular file (a pipe, device or folder took its place)")
    if identity is not None and (st.st_dev, st.st_ino) != tuple(identity):
        os.close(fd)
        raise Changed("replaced by another file after the walk")
    return fd


def _read_file(source: Source, max_bytes: int) -> bytes:
    with open(open_planned(source.path, source.identity), "rb") as f:
        # Not read(max_bytes + 1) alone: that allocates max_bytes for every file.
        size = os.fstat(f.fileno()).st_size
        raw = f.read(min(size, max_bytes) + 1)
        if size < len(raw) <= max_bytes:  # it grew since the stat: read on, up to the limit
            raw += f.read(max_bytes + 1 - len(raw))
    return raw
