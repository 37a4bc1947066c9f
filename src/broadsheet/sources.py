"""Walk the source folders: every entry becomes a Source to read or a Rejected.

Nothing is read here but directory entries, sizes and the headers of tar
shards. Decisions that need no content are made here: symlinks leaving the
tree, special files, oversized files, names the include patterns skip, ids
claimed twice, and tar members with unsafe paths or that are links.

A tar shard (plain or gzip; ``normalize.archives``) is a folder that happens to
be one file: each member is accounted for like a file, named
``<shard path>/<member path>``, with the same id rules. Members are streamed
from the shard when read, never unpacked to disk.
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

from broadsheet import archives
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
    path = "/".join(parts)
    if path.isascii():
        return path
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
    seen: set[str] = set()  # a set, not id -> path: at a million files the difference is about 100 MB
    duplicates: list[Source] = []
    for source in candidates:
        if source.id in seen:
            duplicates.append(source)
        else:
            seen.add(source.id)
            result.sources.append(source)
    if duplicates:
        taken = {s.id for s in duplicates}
        keeper = {s.id: s.relpath for s in result.sources if s.id in taken}
        result.rejected += [Rejected(s.relpath, "duplicate_id", f"id {s.id} already taken by {keeper[s.id]}") for s in duplicates]
    result.rejected.sort(key=lambda r: r.path)
    return result


def _walk(directory: Path, parts: list[str], real_root: str, params, candidates: list, result: Plan) -> None:
    try:
        with os.scandir(directory) as entries:  # in no particular order: the plan sorts what it found
            for entry in entries:
                _visit(entry, [*parts, entry.name], real_root, params, candidates, result)
    except OSError as e:
        result.input_files += 1
        result.rejected.append(Rejected(display_path(parts) or ".", "unreadable", f"folder cannot be listed: {e.strerror}"))


def _visit(entry: os.DirEntry, relparts: list[str], real_root: str, params, candidates: list, result: Plan) -> None:
    relpath = display_path(relparts)
    if entry.is_dir(follow_symlinks=False):
        _walk(Path(entry.path), relparts, real_root, params, candidates, result)
        return
    outcome = _check_entry(entry, relpath, real_root)
    if outcome is None and _matches(entry.name, params.archives):
        _walk_archive(entry.path, relpath, params, candidates, result)
        return
    result.input_files += 1
    if outcome is None:
        outcome = _check_name_and_size(entry.name, relpath, entry.stat().st_size, params)
    if outcome is not None:
        result.rejected.append(outcome)
    else:
        ident, ordinal = identify(relpath)
        candidates.append(Source(entry.path, relpath, ident, ordinal))


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _check_entry(entry: os.DirEntry, relpath: str, real_root: str) -> Rejected | None:
    """A Rejected for an entry that is no regular file inside the tree, None for one to look at further."""
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
    return None


def _check_name_and_size(name: str, relpath: str, size: int, params: NormalizeParams) -> Rejected | None:
    if not _matches(name, params.include):
        return Rejected(relpath, NOT_A_DOCUMENT, f"name matches none of {', '.join(params.include)}")
    if size > params.max_file_bytes:
        return Rejected(relpath, "too_large", f"{size} bytes > max_file_bytes {params.max_file_bytes}")
    return None


def _walk_archive(path: str, relpath: str, params: NormalizeParams, candidates: list, result: Plan) -> None:
    """Every member of the tar shard at ``path`` as a Source or a Rejected, from its headers alone.

    A damaged shard keeps the members listed before the damage and adds one
    Rejected for the rest, like a folder that cannot be listed.
    """
    listed = 0
    try:
        for member in archives.members(path):
            if member.kind == archives.DIRECTORY:
                continue
            listed += 1
            result.input_files += 1
            outcome = _check_member(member, relpath, params)
            if isinstance(outcome, Rejected):
                result.rejected.append(outcome)
            else:
                ident, ordinal = identify(outcome)
                candidates.append(Source(path, outcome, ident, ordinal, (member.offset, member.size)))
    except archives.ERRORS as e:
        result.input_files += 1
        detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        result.rejected.append(Rejected(relpath, "damaged_archive", f"{detail} (after {listed} members)"))


def _check_member(member: archives.Member, archive: str, params: NormalizeParams) -> str | Rejected:
    """The relative path of a tar member to read, or why it is not read."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts:
        return Rejected(display_path([archive, name]), "unsafe_member_path", f"member path {name!r} is absolute, empty or leaves the archive")
    shown = display_path([archive, *parts])
    if member.kind in (archives.SYMLINK, archives.HARDLINK):
        return Rejected(shown, "link_in_archive", f"a {'symbolic' if member.kind == archives.SYMLINK else 'hard'} link to {member.linkname!r}")
    if member.kind != archives.REGULAR:
        return Rejected(shown, "not_a_regular_file", "a device, pipe, sparse or other special member")
    return _check_name_and_size(parts[-1], shown, member.size, params) or shown


def read(source: Source, max_bytes: int) -> bytes | Rejected:
    """The bytes of ``source``, or why they cannot be had."""
    try:
        if source.member is not None:
            raw = archives.read_member(source.path, *source.member)
        else:
            with open(source.path, "rb") as f:
                raw = f.read(max_bytes + 1)
    except archives.ERRORS as e:
        return Rejected(source.relpath, "unreadable", getattr(e, "strerror", None) or str(e) or type(e).__name__)
    if source.member is not None and len(raw) != source.member[1]:
        return Rejected(source.relpath, "unreadable", f"the archive ends inside this member ({len(raw)} of {source.member[1]} bytes)")
    if len(raw) > max_bytes:
        return Rejected(source.relpath, "too_large", f"grew past max_file_bytes {max_bytes} while being read")
    return raw
