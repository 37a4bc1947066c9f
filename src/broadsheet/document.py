"""Raw bytes of one file to one record (or a Rejected): a pure function.

decode -> newlines -> mojibake repair -> Unicode and whitespace clean-up ->
sections -> dateline -> language -> the record dict, in the field order of ``schemas/document.v1.json``. Every
change made to the text is named in the record's ``flags``.
"""

from __future__ import annotations

import hashlib

from broadsheet.clean import clean_text, fix_mojibake, has_control_chars, normalize_newlines
from broadsheet.decode import Undecodable, decode
from broadsheet.lang import detect as detect_language
from broadsheet.params import NormalizeParams
from broadsheet.parse import split_dateline, split_sections
from broadsheet.records import Rejected, Source


def normalize_document(raw: bytes, source: Source, params: NormalizeParams) -> dict | Rejected:
    """The record for ``raw``, the bytes of ``source``; or why it is not one."""
    decoded = decode(raw, params.legacy_encodings, params.max_mess_ratio)
    if isinstance(decoded, Undecodable):
        return Rejected(source.relpath, decoded.reason, decoded.detail)
    text, newline_flags = normalize_newlines(decoded.text)
    mojibake_flags = []
    if params.fix_mojibake:
        text, mojibake_flags = fix_mojibake(text)
    if params.control_chars == "reject" and has_control_chars(text):
        return Rejected(source.relpath, "control_chars", "control characters in text (normalize.control_chars: reject)")
    text, clean_flags = clean_text(text, params.fix_acute_apostrophe)
    if not text.strip():
        return Rejected(source.relpath, "whitespace_only", f"{len(raw)} bytes of white space")
    sections = split_sections(text.split("\n"))
    if sections is None:
        return Rejected(source.relpath, "no_title", "the first non-blank line is the '-' separator")
    paragraphs = sections.paragraphs
    dateline = None
    if params.extract_dateline and paragraphs:
        dateline, first = split_dateline(paragraphs[0])
        paragraphs = [first, *paragraphs[1:]]
    if not paragraphs:
        return Rejected(source.relpath, "no_body", "a headline but no body paragraphs")
    body = "\n\n".join(paragraphs)
    lang, lang_score, lang_flags = detect_language(f"{sections.title}\n{body}", params.lang_prefix_chars)
    flags = sorted({*decoded.flags, *newline_flags, *mojibake_flags, *clean_flags, *sections.flags, *lang_flags})
    return {
        "id": source.id,
        "title": sections.title,
        "dateline": dateline,
        "text": body,
        "related": sections.related,
        "lang": lang,
        "lang_score": lang_score,
        "n_chars": len(body),
        "n_words": len(body.split()),
        "text_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
        "source": {
            "path": source.relpath,
            "ordinal": source.ordinal,
            "raw_bytes": len(raw),
            "raw_sha256": hashlib.sha256(raw).hexdigest(),
            "encoding": decoded.encoding,
        },
        "flags": flags,
    }
