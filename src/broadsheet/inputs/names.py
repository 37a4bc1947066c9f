"""What a path's name says: a document's id and ordinal, and the path as text that is always valid.

A name ``NNN_<16 hex>.txt`` gives its key as the id and NNN as the ordinal; any
other name gets an id hashed from its relative path. Never from content: an
edited document keeps its id.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

KEYED_NAME = re.compile(r"^(?P<ordinal>\d+)_(?P<key>[0-9A-Fa-f]{16})\.txt$")


def identify(relpath: str) -> tuple[str, int | None]:
    """``(id, ordinal)`` of a relative path: the name's 16-hex key and NNN, else a hash of the NFC path."""
    match = KEYED_NAME.match(relpath.rsplit("/", 1)[-1])
    if match and int(match["ordinal"]) < 2**63:  # an ordinal is an int64 in the schema
        return match["key"].lower(), int(match["ordinal"])
    digest = hashlib.sha256(unicodedata.normalize("NFC", relpath).encode("utf-8")).hexdigest()
    return digest[:16], None


def display_path(parts: list[str]) -> str:
    """'/'-joined path; bytes of a name that are not UTF-8 shown as \\xNN so the path is always valid text."""
    path = "/".join(parts)
    if path.isascii():
        return path
    return "/".join(os.fsencode(p).decode("utf-8", "backslashreplace") for p in parts)
