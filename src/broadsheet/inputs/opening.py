"""Opening a file the walk planned to read: what is opened is what the walk saw, or the reason it is not.

The file is opened without following a link and without blocking (a FIFO put
in its place must not hang the run), and must still be a regular file with
the device and inode the walk recorded.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

CHANGED = "changed_during_run"
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Changed(Exception):
    """The file at a planned path is no longer the one the walk saw."""


def open_planned(path: str, identity: tuple[int, int] | None = None) -> BinaryIO:
    """The regular file at ``path``, opened for reading, if it is still the one of ``identity`` (device, inode)."""
    try:
        fd = os.open(path, _FLAGS)
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
    return open(fd, "rb")
