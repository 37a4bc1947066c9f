"""What a path's name says: a document's id and ordinal, and the path as text that is always valid.

A name ``NNN_<16 hex>.txt`` gives its key as the id and NNN as the ordinal; any
other name gets an id hashed from its relative path. Never from content: an
edited document keeps its id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

KEYED_NAME = re.compile(r"^(?P<ordinal>\d{1,18})_(?P<key>[0-9A-Fa-f]{16})\.txt$")
"""An ordinal of up to 18 digits fits the schema's int64; a longer run of digits is just a name."""
_NOT_PLAIN = re.compile(r"[\\\udc80-\udcff]")
"""What a name's text must escape to stay one-to-one with its bytes: a backslash, and each byte that is not UTF-8."""


def identify(relpath: str) -> tuple[str, int | None]:
    """``(id, ordinal)`` of a relative path: the name's 16-hex key and NNN, else a hash of the NFC path."""
    match = KEYED_NAME.match(relpath.rsplit("/", 1)[-1])
    if match:
        return match["key"].lower(), int(match["ordinal"])
    digest = hashlib.sha256(unicodedata.normalize("NFC", relpath).encode("utf-8")).hexdigest()
    return digest[:16], None


def display_path(parts: list[str]) -> str:
    """'/'-joined path as valid text, one-to-one with the names' bytes: a byte that is not UTF-8 is shown as
    \\xNN and a backslash as two, so two different names never share a path (or an id)."""
    path = "/".join(parts)
    if (path.isascii() and "\\" not in path) or _NOT_PLAIN.search(path) is None:
        return path
    return _NOT_PLAIN.sub(_escape, path)


def _escape(match: re.Match) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\x{ord(char) - 0xDC00:02x}"
