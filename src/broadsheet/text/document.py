"""Raw bytes of one file to one record (or a Rejected): a pure function.

decode -> newlines -> clean-up (controls, Unicode, white space) -> sections ->
mojibake repair of each piece -> dateline -> language -> the record dict, in
the field order of ``schemas/document.v2.json``. Every change made to the text
is named in the record's ``flags``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from broadsheet.core.params import NormalizeParams
from broadsheet.core.values import Rejected, Source
from broadsheet.text import words
from broadsheet.text.clean import clean_text, fix_mojibake, has_control_chars, normalize_newlines
from broadsheet.text.decode import Undecodable, decode
from broadsheet.text.lang import detect as detect_language
from broadsheet.text.parse import paragraphs, split_dateline, split_sections


def _repair_mojibake(title: str, paragraphs: list[str], related: list[str], params: NormalizeParams):
    """Mojibake repair piece by piece, once the structure is known, so that a second pass finds the same pieces."""
    flags: list[str] = []

    def repair(piece: str) -> str:
        fixed, changed = fix_mojibake(piece)
        if changed:
            flags.extend(changed)
            fixed, _ = clean_text(fixed, params.fix_acute_apostrophe)  # what ftfy restored (an NBSP, say)
        return fixed

    paragraphs = [p for p in map(repair, paragraphs) if p]
    return repair(title), paragraphs, [h for h in map(repair, related) if h], flags


def _may_hold_mojibake(raw: bytes, encoding: str) -> bool:
    """False when the text cannot hold what ``fix_mojibake`` looks for (a character U+00C2-U+00F4).

    In UTF-8 each of those is encoded with the lead byte 0xC3, so a byte search
    rules most documents out far faster than a regex scan of their text.
    """
    return encoding != "utf-8" or b"\xc3" in raw


def normalize_document(
    raw: bytes, source: Source, params: NormalizeParams, raw_sha256: str | None = None
) -> dict | Rejected:
    """The record for ``raw``, the bytes of ``source`` (one article file); or why it is not one
    (``raw_sha256``: its hash, if known)."""
    decoded = decode(raw, params.legacy_encodings, params.max_mess_ratio)
    if isinstance(decoded, Undecodable):
        return Rejected(source.relpath, decoded.reason, decoded.detail)
    text, newline_flags = normalize_newlines(decoded.text)
    if params.control_chars == "reject" and has_control_chars(text):
        return Rejected(source.relpath, "control_chars", "control characters in text (normalize.control_chars: reject)")
    text, clean_flags = clean_text(text, params.fix_acute_apostrophe)
    if not text.strip():
        return Rejected(source.relpath, "whitespace_only", f"{len(raw)} bytes of white space")
    sections = split_sections(text.split("\n"))
    if sections is None:
        return Rejected(source.relpath, "no_title", "the first non-blank line is the '-' separator")
    pieces = Pieces(sections.title, sections.paragraphs, sections.related, None)
    flags = [*decoded.flags, *newline_flags, *clean_flags, *sections.flags]
    mojibake = params.fix_mojibake and _may_hold_mojibake(raw, decoded.encoding)
    return _record(pieces, flags, mojibake, source, params, (len(raw), raw_sha256 or _sha256(raw), decoded.encoding))


@dataclass(frozen=True)
class Pieces:
    """An article's parts, cleaned: what both raw formats (a file, a record) come to before the common steps."""

    title: str
    paragraphs: list[str]
    related: list[str]
    dateline: str | None
    """Given by the input; None: taken from the first paragraph (if ``extract_dateline``)."""
    url: str | None = None
    date: str | None = None


def _record(
    pieces: Pieces, flags: list[str], mojibake: bool, source: Source, params: NormalizeParams, raw: tuple[int, str, str]
) -> dict | Rejected:
    """The common steps: mojibake repair, dateline, language, the record dict. ``raw``: (bytes, sha256, encoding)."""
    title, paragraphs, related = pieces.title, pieces.paragraphs, pieces.related
    flags = list(flags)
    if mojibake:
        title, paragraphs, related, mojibake_flags = _repair_mojibake(title, paragraphs, related, params)
        flags += mojibake_flags
    dateline = pieces.dateline
    if dateline is None and params.extract_dateline and paragraphs:
        dateline, first = split_dateline(paragraphs[0])
        paragraphs = [first, *paragraphs[1:]]
    if not paragraphs:
        return Rejected(source.relpath, "no_body", "a headline but no body paragraphs")
    body = "\n\n".join(paragraphs)
    lang, lang_score, lang_flags = detect_language(f"{title}\n{body}", params.lang_prefix_chars)
    size, sha256, encoding = raw
    return {
        "id": source.id,
        "title": title,
        "dateline": dateline,
        "text": body,
        "related": related,
        "url": pieces.url,
        "date": pieces.date,
        "lang": lang,
        "lang_score": lang_score,
        "n_chars": len(body),
        "n_words": words.count(body),
        "text_sha256": _sha256(body.encode("utf-8")),
        "source": {
            "path": source.relpath,
            "ordinal": source.ordinal,
            "raw_bytes": size,
            "raw_sha256": sha256,
            "encoding": encoding,
        },
        "flags": sorted({*flags, *lang_flags}),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalize_record(
    raw: bytes, source: Source, params: NormalizeParams, raw_sha256: str | None = None
) -> dict | Rejected:
    """The record for ``raw``, one record of a file of records as a JSON object's bytes (``inputs.records``),
    its parts in the fields ``normalize.fields`` names; or why it is not one."""
    try:
        found = json.loads(raw.decode("utf-8-sig"))  # decoded first: json.loads would take UTF-16 bytes too
    except UnicodeDecodeError:
        return Rejected(source.relpath, "undecodable", "not UTF-8 (JSON is)")
    except (ValueError, RecursionError) as e:
        return Rejected(source.relpath, "bad_record", f"not JSON: {str(e)[:80]}")
    if not isinstance(found, dict):
        return Rejected(source.relpath, "bad_record", f"a JSON {type(found).__name__}, not an object")
    names = params.fields
    mapped = (names.title, names.text, names.dateline, names.related, names.url, names.date)
    if _SURROGATE_ESCAPE.search(raw) and any(_has_surrogate(found.get(name)) for name in mapped if name):
        return Rejected(source.relpath, "undecodable", "a \\u escape of half a surrogate pair, which is no character")
    title, text = found.get(names.title), found.get(names.text)
    for name, value in ((names.title, title), (names.text, text)):
        if not isinstance(value, str):
            return Rejected(source.relpath, "missing_field", f"no text in the field {name!r}")
    flags: list[str] = []
    cleaned_title = _cleaned(title.replace("\n", " "), params, flags)
    lines = _cleaned(text, params, flags).split("\n")
    if not "".join(lines).strip():
        return Rejected(source.relpath, "whitespace_only", f"the field {names.text!r} holds no text")
    if not cleaned_title:
        return Rejected(source.relpath, "no_title", f"the field {names.title!r} holds no text")
    related = found.get(names.related) if names.related else None
    related = related.split("\n") if isinstance(related, str) else related if isinstance(related, list) else []
    related = [line for line in (_cleaned(r, params, flags) for r in map(_text, related) if r) if line]
    dateline, url, date = (_optional(found, name, params, flags) for name in (names.dateline, names.url, names.date))
    pieces = Pieces(cleaned_title, paragraphs(lines), related, dateline, url, date)
    if params.control_chars == "reject" and "control_chars_removed" in flags:
        return Rejected(source.relpath, "control_chars", "control characters in text (normalize.control_chars: reject)")
    return _record(pieces, flags, params.fix_mojibake, source, params, (len(raw), raw_sha256 or _sha256(raw), "utf-8"))


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: most records have none, and need no closer look."""
_SURROGATE = re.compile("[\ud800-\udfff]")
"""What json.loads leaves of an escape of half a pair (a whole pair becomes its character): no UTF-8 holds it."""


def _text(value) -> str | None:
    """A text field's value as text: a string, or a number as JSON writes it; None for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    return value if isinstance(value, str) else None


def _has_surrogate(value) -> bool:
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _optional(found: dict, name: str, params: NormalizeParams, flags: list[str]) -> str | None:
    """The cleaned text of an optional field, if ``name`` names one and the record holds text in it."""
    value = _text(found.get(name)) if name else None  # a date written as a number: as JSON writes it
    return (_cleaned(value.replace("\n", " "), params, flags) or None) if value is not None else None


def _cleaned(text: str, params: NormalizeParams, flags: list[str]) -> str:
    text, newline_flags = normalize_newlines(text)
    text, clean_flags = clean_text(text, params.fix_acute_apostrophe)
    flags += newline_flags + clean_flags
    return text.strip()
