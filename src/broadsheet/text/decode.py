"""Raw bytes to text: byte-order marks, UTF-8 first, then a principled guess.

Pure functions. A file that is not text, or whose encoding cannot be told with
confidence, comes back as a reject reason, never as an exception.

Legacy 8-bit text is ambiguous: the same bytes are valid cp1252, cp1250 and a
dozen others. Statistical detectors (charset-normalizer) are good at telling
Cyrillic from Greek but pick cp1250 for a short English cp1252 text with a '£'.
So the corpus's expected legacy encodings (``preferred``) are tried first and
kept when the text they give reads cleanly (charset-normalizer's mess ratio);
otherwise charset-normalizer decides among all encodings.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

# Bytes that never occur in text files: NUL and the C0 controls other than
# \t \n \v \f \r and ESC. A few are tolerated (scraped text has stray ones);
# more than this share (and count) of the first block marks the file as binary.
_BINARY_BYTES = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r\x1b")
_SNIFF = 8192
_MAX_CONTROL_SHARE = 0.01
_MAX_CONTROL_COUNT = 8
_MESS_SAMPLE = 16384


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Undecodable:
    reason: str
    detail: str


_WIDE_BOMS = (  # UTF-32's little-endian mark begins with UTF-16's: UTF-32 is tried first
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _wide(raw: bytes, bom: bytes, encoding: str) -> Decoded | Undecodable:
    """UTF-32 or UTF-16 text that opens with its byte-order mark."""
    if raw == bom:
        return Undecodable("empty", "only a byte-order mark")
    try:
        return Decoded(raw.decode(encoding), encoding, ("bom_stripped", "decoded_" + encoding.replace("-", "")))
    except UnicodeDecodeError as e:
        name = encoding.upper()
        return Undecodable("binary", f"{name} byte-order mark but invalid {name} at byte {e.start}")


def canonical(encoding: str) -> str:
    """Python's own name of an encoding: 'windows-1252' -> 'cp1252', 'KOI8_R' -> 'koi8-r'."""
    return codecs.lookup(encoding).name


def _legacy(raw: bytes, preferred: tuple[str, ...], max_mess: float) -> tuple[str, str] | None:
    """(text, encoding) of non-UTF-8 ``raw``, or None when no encoding reads cleanly enough."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    for encoding in preferred:
        try:
            text = raw.decode(encoding)
        except UnicodeError:  # UnicodeDecodeError, and what odd codecs raise instead
            continue
        if mess_ratio(text[:_MESS_SAMPLE], max_mess) <= max_mess:
            return text, canonical(encoding)
    best = from_bytes(raw, threshold=max_mess).best()
    if best is None:
        return None
    return str(best), canonical(best.encoding)


def decode(
    raw: bytes, preferred: tuple[str, ...] = ("cp1252", "iso8859-1"), max_mess: float = 0.2
) -> Decoded | Undecodable:
    """Decode ``raw``: a UTF-32 or UTF-16 BOM decides; else strict UTF-8 (BOM stripped); else ``preferred``,
    else detection."""
    if not raw:
        return Undecodable("empty", "0 bytes")
    flags: tuple[str, ...] = ()
    if raw.startswith(codecs.BOM_UTF8):
        raw, flags = raw[len(codecs.BOM_UTF8) :], ("bom_stripped",)
        if not raw:
            return Undecodable("empty", "only a byte-order mark")
    else:
        for bom, encoding in _WIDE_BOMS:
            if raw.startswith(bom):
                return _wide(raw, bom, encoding)
    head = raw[:_SNIFF]
    if b"\x00" in head:
        return Undecodable("binary", f"NUL byte at offset {head.index(0)}")
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    if controls > max(_MAX_CONTROL_COUNT, _MAX_CONTROL_SHARE * len(head)):
        return Undecodable("binary", f"{controls} control bytes in the first {len(head)}")
    try:
        return Decoded(raw.decode("utf-8"), "utf-8", flags)
    except UnicodeDecodeError as e:
        first_bad = e.start
    legacy = _legacy(raw, preferred, max_mess)
    if legacy is None:
        return Undecodable("undecodable", f"not UTF-8 (byte {first_bad}) and no encoding reads cleanly")
    text, encoding = legacy
    return Decoded(text, encoding, (*flags, "decoded_" + encoding.replace("-", "_")))
