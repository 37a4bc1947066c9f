"""Text from the data (file names, titles, settings) made safe to print on a terminal, on one line."""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]")
"""Control characters (ESC starts terminal sequences; a newline would split a listing line), line separators and
directional marks (they reorder what is shown)."""


def printable(text: str) -> str:
    """``text`` with each unsafe character shown as an escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def counted(n: int, noun: str) -> str:
    """``1 document``, ``2,000 documents``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
