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
# Directional embeddings, overrides and isolates: they make text display in another order than it is
# stored ("Trojan Source"), so a title can show what it does not say. The marks LRM/RLM stay.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Any character one of the classes above handles: one scan decides whether they need to run.
_ANY_SPECIAL = re.compile(
    "[\x00-\x08\t\x0b\x0c\x0e-\x1f\x7f-\x9f\u00a0\u00ad\u1680\u2000-\u200b\u2028\u2029\u202a-\u202f"
    "\u205f\u2060\u2066-\u2069\u3000\ufeff]"
)
_ACUTE_APOSTROPHE = re.compile(r"(?<=\w)\u00b4(?=\w)")
# UTF-8 read as cp1252 or latin-1: a lead byte (U+00C2-U+00F4: Â Ã â ...) followed by what a
# continuation byte 0x80-0xBF becomes (U+0080-U+00BF, or cp1252's
# € ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ).
# A cheap test that picks the few documents worth ftfy's slow, thorough repair.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def has_control_chars(text: str) -> bool:
    return _CONTROLS.search(text) is not None


def fix_mojibake(text: str) -> tuple[str, list[str]]:
    """Repair UTF-8 that was decoded as a legacy encoding (Russiaâ€™s -> Russia’s), where a cheap test hints at it."""
    if text.isascii() or _MOJIBAKE_HINT.search(text) is None:
        return text, []
    import ftfy

    fixed = ftfy.fix_encoding(text)
    return (fixed, ["mojibake_fixed"]) if fixed != text else (text, [])


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
    """NFC, one kind of space, no invisible or control characters, no space runs or line-edge spaces.

    Removals come first, so that what they bring together (a letter, a combining
    mark, an acute accent) is seen by NFC and the apostrophe rule: cleaning twice
    changes nothing (a property test holds it to that).
    """
    flags = []
    # Most texts have none of the special characters: skip three passes. Every one of them is
    # unprintable, and str.isprintable is several times faster than a regex scan.
    special = not text.replace("\n", " ").isprintable() and _ANY_SPECIAL.search(text) is not None
    if special:
        text, n = _CONTROLS.subn("", text)
        if n:
            flags.append("control_chars_removed")
    if not text.isascii():
        if special:
            text, n = _ZERO_WIDTH.subn("", text)
            if n:
                flags.append("zero_width_removed")
            text, n = _BIDI_CONTROLS.subn("", text)
            if n:
                flags.append("bidi_controls_removed")
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
            flags.append("unicode_nfc")
        if fix_acute_apostrophe and "\u00b4" in text:
            text, n = _ACUTE_APOSTROPHE.subn("\u2019", text)
            if n:
                flags.append("apostrophe_fixed")
    if special:
        text, n = _UNICODE_SPACES.subn(" ", text)
        if n:
            flags.append("unicode_spaces_replaced")
    before = text
    while "  " in text:  # str.replace halves every run per round: far faster than a regex here
        text = text.replace("  ", " ")
    if " \n" in text or "\n " in text or text.startswith(" ") or text.endswith(" "):
        text = "\n".join(line.strip(" ") for line in text.split("\n"))
    if text != before:
        flags.append("spaces_collapsed")
    return text, flags
