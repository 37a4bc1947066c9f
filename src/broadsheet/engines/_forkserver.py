"""Imported by the forkserver that forks the local workers (``local.pool`` preloads it), nowhere else.

A worker forked while the pool that asked for it is being torn down (a Ctrl-C as the
workers start) finds the pool's semaphores gone, and the forkserver printed its traceback
beside the run's own "broadsheet: aborted". Such a worker now ends quietly; any other
error in the forkserver's children is shown as before.
"""

from __future__ import annotations

import sys

_show = sys.excepthook


def _pool_gone(tb) -> bool:
    """The error was raised where a worker rebuilds one of its pool's semaphores."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return code.co_name == "__setstate__" and code.co_filename.endswith("synchronize.py")


def _hook(kind, value, tb) -> None:
    if not (issubclass(kind, FileNotFoundError) and tb is not None and _pool_gone(tb)):
        _show(kind, value, tb)


sys.excepthook = _hook
