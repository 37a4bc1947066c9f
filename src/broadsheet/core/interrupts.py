"""Ctrl-C ends the run, even where a library swallows it.

Python raises KeyboardInterrupt wherever the main thread is when the signal's handler
runs. Inside some compiled code (Numba's dispatcher, between a call's arguments and
its result) that exception is cleared, or returned as a SystemError, and the run went
on to finish with exit 0. So the command line's handler also remembers the signal, and
the places a run passes often (``check``: each unit of progress, the commit of an
output folder) and its exit ask whether one came.
"""

from __future__ import annotations

import signal

_received = False


def watch() -> None:
    """SIGINT raises KeyboardInterrupt, as by default, and is remembered (for the command line: a library that
    embeds broadsheet keeps its own handler)."""

    def handler(signum, frame) -> None:
        global _received
        _received = True
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)


def received() -> bool:
    return _received


def check() -> None:
    """Raise KeyboardInterrupt if SIGINT came (and was swallowed where it was raised)."""
    if _received:
        raise KeyboardInterrupt
