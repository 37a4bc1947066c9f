"""Text clean-up: one newline convention, NFC, one kind of space, no invisible characters.

Pure functions on str; each returns the flags naming what it changed.
"""

from __future__ import annotations

import re
import unicodedata

# Spaces other than U+0020 (tab, NBSP, the U+2000 block, narrow NBSP, ...) and
# the line/paragraph separators that are not newlines here.
_UNICODE_SPACES = re.compile("[\t\x0b\x0c\x85\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# Invisible characters that carry no text: zero-width space, word joiner, BOM, soft hyphen.
# ZWJ/ZWNJ (U+200C/U+200D) stay: they change how Persian, Indic scripts and emoji render.
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff\u00ad]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SPACE_RUNS = re.compile(" {2,}")
_LINE_EDGES = re.compile("^ +| +$", re.MULTILINE)
_ACUTE_APOSTROPHE = re.compile(r"(?<=\w)\u00b4(?=\w)")


def normalize_newlines(text: str) -> tuple[str, list[str]]:
    flags = []
    if "\r" in text:
        if "\r\n" in text:
            flags.append("crlf")
            text = text.replace("\r\n", "\n")
        if "\r" in text:
            flags.append("cr_newlines")
            text = text.replace("\r", "\n")
    return text, flags


def clean_text(text: str, fix_acute_apostrophe: bool = True) -> tuple[str, list[str]]:
    """NFC, one kind of space, no invisible or control characters, no space runs or line-edge spaces."""
    flags = []
    if not text.isascii():
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
            flags.append("unicode_nfc")
        text, n = _ZERO_WIDTH.subn("", text)
        if n:
            flags.append("zero_width_removed")
        if fix_acute_apostrophe:
            text, n = _ACUTE_APOSTROPHE.subn("\u2019", text)
            if n:
                flags.append("apostrophe_fixed")
    text, n = _CONTROLS.subn("", text)
    if n:
        flags.append("control_chars_removed")
    text, n = _UNICODE_SPACES.subn(" ", text)
    if n:
        flags.append("unicode_spaces_replaced")
    text, n = _SPACE_RUNS.subn(" ", text)
    text, m = _LINE_EDGES.subn("", text)
    if n or m:
        flags.append("spaces_collapsed")
    return text, flags
