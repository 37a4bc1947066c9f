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

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


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
    """Decode ``raw``: a BOM decides; else strict UTF-8; else cp1252; else latin-1 (flagged)."""
    if not raw:
        return Undecodable("empty", "0 bytes")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode("utf-8-sig" if encoding == "utf-8" else "utf-16")
            except UnicodeDecodeError as e:
                return Undecodable("binary", f"{encoding} byte-order mark but invalid {encoding} at byte {e.start}")
            flags = ("bom_stripped",) if encoding == "utf-8" else ("bom_stripped", "decoded_utf16")
            return Decoded(text, encoding, flags)
    head = raw[:_SNIFF]
    if b"\x00" in head:
        return Undecodable("binary", f"NUL byte at offset {head.index(0)}")
    controls = sum(head.count(b) for b in _BINARY_BYTES)
    if controls > max(_MAX_CONTROL_COUNT, _MAX_CONTROL_SHARE * len(head)):
        return Undecodable("binary", f"{controls} control bytes in the first {len(head)}")
    try:
        return Decoded(raw.decode("utf-8"), "utf-8", ())
    except UnicodeDecodeError:
        pass
    try:
        return Decoded(raw.decode("cp1252"), "cp1252", ("decoded_cp1252",))
    except UnicodeDecodeError:
        # The five bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D): latin-1 maps every byte.
        return Decoded(raw.decode("latin-1"), "latin-1", ("decoded_latin1",))
