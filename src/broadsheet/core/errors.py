"""The one exception the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class BroadsheetError(Exception):
    """A problem the user can fix: bad input, bad params, a schema mismatch."""


def reason(error: BaseException) -> str:
    """What went wrong, in words: an OSError's strerror ('No such file or directory'), else its message or type."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def first_line(error: BaseException, chars: int = 200) -> str:
    """The first line of an error's message, cut short: what a one-line report can hold."""
    lines = str(error).strip().splitlines()
    return lines[0][:chars] if lines else type(error).__name__


@contextmanager
def failing_as(what: str) -> Iterator[None]:
    """Turn an OSError inside the block into ``BroadsheetError("{what}: {reason}")``, without a traceback."""
    try:
        yield
    except OSError as e:
        raise BroadsheetError(f"{what}: {reason(e)}") from None
