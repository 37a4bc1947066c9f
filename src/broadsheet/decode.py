"""Raw bytes to text: byte-order marks, UTF-8 first, legacy 8-bit encodings second.

Pure functions. A file that is not text comes back as a reject reason, never
as an exception.
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

@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Undecodable:
    reason: str
    detail: str


def decode(raw: bytes) -> Decoded | Undecodable:
    """Decode ``raw``: a UTF-16 BOM decides; else strict UTF-8 (BOM stripped); else cp1252; else latin-1 (flagged)."""
    if not raw:
        return Undecodable("empty", "0 bytes")
    flags: tuple[str, ...] = ()
    if raw.startswith(codecs.BOM_UTF8):
        raw, flags = raw[len(codecs.BOM_UTF8) :], ("bom_stripped",)
        if not raw:
            return Undecodable("empty", "only a byte-order mark")
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return Decoded(raw.decode("utf-16"), "utf-16", ("bom_stripped", "decoded_utf16"))
        except UnicodeDecodeError as e:
            return Undecodable("binary", f"UTF-16 byte-order mark but invalid UTF-16 at byte {e.start}")
    head = raw[:_SNIFF]
    if b"\x00" in head:
        return Undecodable("binary", f"NUL byte at offset {head.index(0)}")
    controls = sum(head.count(b) for b in _BINARY_BYTES)
    if controls > max(_MAX_CONTROL_COUNT, _MAX_CONTROL_SHARE * len(head)):
        return Undecodable("binary", f"{controls} control bytes in the first {len(head)}")
    try:
        return Decoded(raw.decode("utf-8"), "utf-8", flags)
    except UnicodeDecodeError:
        pass
    try:
        return Decoded(raw.decode("cp1252"), "cp1252", (*flags, "decoded_cp1252"))
    except UnicodeDecodeError:
        # The five bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D): latin-1 maps every byte.
        return Decoded(raw.decode("latin-1"), "latin-1", (*flags, "decoded_latin1"))
