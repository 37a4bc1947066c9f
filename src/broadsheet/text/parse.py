"""The structure of an article: headline, body paragraphs, related headlines.

Pure functions over lines that ``clean.clean_text`` has already cleaned (``document``
runs them in that order). The format:
line 1 the headline; then body paragraphs, one per line or separated by blank
lines; optionally a line holding only ``-`` and then related headlines, each
ending in `` -`` except the last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEPARATOR = "-"
_RELATED_TAIL = re.compile(r"\s+-$")
# An opening place line: upper-case words joined by spaces or '/', an optional
# (Agency), then ':' or a spaced dash, e.g. "MOSCOW/WASHINGTON: " or "LONDON (Reuters) - ".
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'\-]+(?:[ /][A-Z][A-Z.'\-]*){0,5}(?: \([^()]{1,40}\))?)"
    r"(?::| [-\u2013\u2014]) +(?=\S)"
)


@dataclass(frozen=True)
class Sections:
    title: str
    paragraphs: list[str]
    related: list[str]
    flags: tuple[str, ...]


def split_sections(lines: list[str]) -> Sections | None:
    """Headline, body paragraphs and related headlines of cleaned ``lines``; None when there is no headline."""
    start = next((i for i, line in enumerate(lines) if line), None)
    if start is None or lines[start] == SEPARATOR:
        return None
    title = lines[start]
    rest = lines[start + 1 :]
    flags = []
    # The last separator line: a body may use '-' as a break, related headlines never are '-' alone.
    sep = max((i for i, line in enumerate(rest) if line == SEPARATOR), default=None)
    if sep is None:
        body, related_lines = rest, []
        flags.append("no_related_section")
    else:
        body, related_lines = rest[:sep], rest[sep + 1 :]
    related = [_RELATED_TAIL.sub("", line) for line in related_lines if line]
    if sep is not None and not related:
        flags.append("empty_related_section")
    if SEPARATOR in body:  # an earlier '-' line: a break inside the body, not text
        body = [line for line in body if line != SEPARATOR]
        flags.append("extra_separator_removed")
    body = _trim_blank(body)
    if "" in body:
        flags.append("blank_line_paragraphs")
    return Sections(title, paragraphs(body), related, tuple(flags))


def paragraphs(lines: list[str]) -> list[str]:
    """One paragraph per line; but where blank lines separate blocks, a block (a wrapped paragraph) is one.
    Blank lines at either end are no paragraph."""
    lines = _trim_blank(lines)
    if "" not in lines:
        return lines
    paragraphs, block = [], []
    for line in lines + [""]:
        if line:
            block.append(line)
        elif block:
            paragraphs.append(" ".join(block))
            block = []
    return paragraphs


def _trim_blank(lines: list[str]) -> list[str]:
    start = next((i for i, line in enumerate(lines) if line), len(lines))
    end = len(lines)
    while end > start and not lines[end - 1]:
        end -= 1
    return lines[start:end]


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """``("MOSCOW/WASHINGTON", "The Kremlin ...")`` for a paragraph that opens with a dateline,
    else ``(None, paragraph)``."""
    match = _DATELINE.match(paragraph)
    if match is None:
        return None, paragraph
    return match.group("place"), paragraph[match.end() :]
