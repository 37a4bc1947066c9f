"""Walk the source folders: every entry becomes a Source to read or a Rejected.

Nothing is read here but directory entries and sizes. Decisions that need no
content are made here: symlinks leaving the tree, special files, oversized
files, names the include patterns skip, and ids claimed twice.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from broadsheet.errors import BroadsheetError
from broadsheet.params import NormalizeParams
from broadsheet.records import Rejected, Source

KEYED_NAME = re.compile(r"^(?P<ordinal>\d+)_(?P<key>[0-9A-Fa-f]{16})\.txt$")
NOT_A_DOCUMENT = "not_a_document"


@dataclass
class Plan:
    """What to read (in source order) and what was decided without reading."""

    sources: list[Source] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    input_files: int = 0


def identify(relpath: str) -> tuple[str, int | None]:
    """``(id, ordinal)`` of a relative path: the name's 16-hex key and NNN, else a hash of the NFC path."""
    match = KEYED_NAME.match(relpath.rsplit("/", 1)[-1])
    if match:
        return match["key"].lower(), int(match["ordinal"])
    digest = hashlib.sha256(unicodedata.normalize("NFC", relpath).encode("utf-8")).hexdigest()
    return digest[:16], None


def display_path(parts: list[str]) -> str:
    """'/'-joined path; bytes of a name that are not UTF-8 shown as \\xNN so the path is always valid text."""
    return "/".join(os.fsencode(p).decode("utf-8", "backslashreplace") for p in parts)


def plan(roots: list[str | Path], params: NormalizeParams) -> Plan:
    """Walk ``roots`` and decide, for every entry, read or reject. Several roots are prefixed by their names."""
    roots = [Path(r) for r in roots]
    if not roots:
        raise BroadsheetError("no source folder given")
    prefixes: dict[str, Path] = {}
    for root in roots:
        if not root.exists():
            raise BroadsheetError(f"source folder {root} does not exist")
        if not root.is_dir():
            raise BroadsheetError(f"source {root} is not a folder")
        prefix = root.resolve().name if len(roots) > 1 else ""
        if prefix in prefixes:
            raise BroadsheetError(f"source folders {prefixes[prefix]} and {root} have the same name {prefix!r}")
        prefixes[prefix] = root
    result = Plan()
    candidates: list[Source] = []
    for prefix, root in prefixes.items():
        _walk(root, [prefix] if prefix else [], os.path.realpath(root), params, candidates, result)
    candidates.sort(key=lambda s: s.order)
    owner: dict[str, str] = {}
    for source in candidates:
        if source.id in owner:
            result.rejected.append(
                Rejected(source.relpath, "duplicate_id", f"id {source.id} already taken by {owner[source.id]}")
            )
        else:
            owner[source.id] = source.relpath
            result.sources.append(source)
    result.rejected.sort(key=lambda r: r.path)
    return result


def _walk(directory: Path, parts: list[str], real_root: str, params, candidates: list, result: Plan) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as e:
        result.input_files += 1
        result.rejected.append(Rejected(display_path(parts) or ".", "unreadable", f"folder cannot be listed: {e.strerror}"))
        return
    for entry in entries:
        relparts = [*parts, entry.name]
        relpath = display_path(relparts)
        if entry.is_dir(follow_symlinks=False):
            _walk(Path(entry.path), relparts, real_root, params, candidates, result)
            continue
        result.input_files += 1
        outcome = _classify(entry, relpath, real_root, params)
        if isinstance(outcome, Rejected):
            result.rejected.append(outcome)
        else:
            ident, ordinal = identify(relpath)
            candidates.append(Source(entry.path, relpath, ident, ordinal))


def _classify(entry: os.DirEntry, relpath: str, real_root: str, params: NormalizeParams) -> Rejected | None:
    """A Rejected for an entry that cannot be a document, None for one to read."""
    if entry.is_symlink():
        target = os.path.realpath(entry.path)
        if os.path.commonpath([target, real_root]) != real_root:
            return Rejected(relpath, "symlink_outside_tree", "link points outside the source folder")
        if not os.path.exists(target):
            return Rejected(relpath, "broken_symlink", "link points to nothing")
        if os.path.isdir(target):
            return Rejected(relpath, "symlink_to_directory", "linked folders are not followed")
    try:
        st = entry.stat()
    except OSError as e:
        return Rejected(relpath, "unreadable", e.strerror or str(e))
    if not stat.S_ISREG(st.st_mode):
        return Rejected(relpath, "not_a_regular_file", "a device, pipe or socket")
    if not any(fnmatch.fnmatchcase(entry.name, p) for p in params.include):
        return Rejected(relpath, NOT_A_DOCUMENT, f"name matches none of {', '.join(params.include)}")
    if st.st_size > params.max_file_bytes:
        return Rejected(relpath, "too_large", f"{st.st_size} bytes > max_file_bytes {params.max_file_bytes}")
    return None


def read(source: Source, max_bytes: int) -> bytes | Rejected:
    """The bytes of ``source``, or why they cannot be had."""
    try:
        with open(source.path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        return Rejected(source.relpath, "unreadable", e.strerror or str(e))
    if len(raw) > max_bytes:
        return Rejected(source.relpath, "too_large", f"grew past max_file_bytes {max_bytes} while being read")
    return raw
