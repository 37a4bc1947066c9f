"""Walk the source folders into a plan: every entry becomes a Source to read or a Rejected.

The walk reads nothing but directory entries, sizes and the headers of tar
shards (``read`` reads the sources later, in the workers). Decisions that need
no content are made here: symlinks leaving the tree, special files, oversized
files, names the include patterns skip, ids claimed twice, and tar members
with unsafe paths or that are links.

A tar shard (plain or gzip; ``normalize.archives``) is a folder that happens to
be one file: each member is accounted for like a file, named
``<shard path>/<member path>``, with the same id rules. Members are streamed
from the shard when read, never unpacked to disk.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core.errors import BroadsheetError, first_line, reason
from broadsheet.core.files import known_sha256
from broadsheet.core.params import NormalizeParams
from broadsheet.core.values import Rejected, Source
from broadsheet.inputs import archives, records
from broadsheet.inputs.names import KEYED_NAME, display_path, identify
from broadsheet.inputs.opening import CHANGED, Changed, open_planned

NOT_A_DOCUMENT = "not_a_document"


_COLUMNS = pa.schema(
    [
        ("container", pa.int32()),  # index into Plan.containers: the folder holding the file, or the tar shard
        ("name", pa.binary()),  # the file's name as the file system has it; null for a tar member
        ("relpath", pa.string()),
        ("id", pa.string()),
        ("ordinal", pa.int64()),
        ("offset", pa.int64()),  # a tar member's data: offset in the uncompressed tar, and size; null for a file
        ("size", pa.int64()),
        ("device", pa.uint64()),  # the file's (or tar shard's) identity when the walk saw it
        ("inode", pa.uint64()),
        ("content", pa.string()),  # a tar member's sha256, when a previous listing of its shard gives it
    ]
)
_BATCH_ROWS = 65_536
_POOL = pa.system_memory_pool()
"""For the plan's columns and the sort: malloc hands large blocks back when they are freed, so the
main process's peak is the plan's size (Arrow's default allocator keeps freed blocks for reuse)."""


@dataclass
class Plan:
    """What to read (in source order) and what was decided without reading.

    The sources are held as Arrow columns, not Source objects (a few times
    smaller), and each task's Sources are made when it is sent (``sources``).
    """

    containers: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    """What each container is: a folder, a tar shard, or a file of records (``Source.kind``)."""
    table: pa.Table = field(default_factory=_COLUMNS.empty_table)
    """Every candidate source, in the order the walk found it."""
    order: pa.Array = field(default_factory=lambda: pa.array([], pa.int64()))
    """Rows of ``table`` to read, in source order: duplicate ids left out."""
    rejected: list[Rejected] = field(default_factory=list)
    input_files: int = 0
    listings: dict[int, tuple[str, pa.Table, tuple]] = field(default_factory=dict)
    """Container -> (sha256 of the tar shard, its listing as LISTING rows, its stat when hashed), for each shard
    listed whole (with ``listings`` given to ``plan``): what the next run's walk can take instead of inflating
    the shard (``unchanged_listings``)."""

    def __len__(self) -> int:
        return len(self.order)

    def take_down(self, ids: set[str]) -> list[tuple[str, str]]:
        """Leave out of the source order every source whose id is in ``ids``; return their (id, relpath)."""
        if not ids or not len(self.order):
            return []
        hit = pc.is_in(self.table["id"].take(self.order), value_set=pa.array(sorted(ids), pa.string()))
        taken = self.table.take(pc.filter(self.order, hit)).select(["id", "relpath"]).to_pylist()
        self.order = pc.filter(self.order, pc.invert(hit))
        return [(row["id"], row["relpath"]) for row in taken]

    def unchanged_listings(self) -> dict[int, tuple[str, pa.Table]]:
        """``listings`` of the tar shards still as they were hashed: one written meanwhile (its listing, and
        what was read of it, may be of other bytes than those hashed) is left out, so it is listed again."""
        found = {}
        for container, (digest, table, stamp) in self.listings.items():
            try:
                now = _stamp(os.stat(self.containers[container], follow_symlinks=False))
            except OSError:
                continue
            if now == stamp:
                found[container] = (digest, table)
        return found

    def ids(self):
        """The sources' ids in source order, made a batch at a time."""
        for start in range(0, len(self.order), _BATCH_ROWS):
            yield from self.table["id"].take(self.order.slice(start, _BATCH_ROWS)).to_pylist()

    def sources(self, span: range) -> list[Source]:
        """The Sources at positions ``span`` of the source order."""
        return self.rows(span).sources()

    def rows(self, span: range) -> Rows:
        """The sources at positions ``span`` of the source order, as columns (what a task sends a worker)."""
        rows = self.table.take(self.order.slice(span.start, len(span)))
        used = pc.unique(rows["container"]).to_pylist()
        return Rows(rows, {c: (self.containers[c], self.kinds[c]) for c in used})


@dataclass(frozen=True)
class Rows:
    """Some sources of a plan as its Arrow columns, and the containers they name: a task's sources go to a
    worker so, and the worker makes the Source objects (a buffer pickles a few times faster than a thousand
    tuples, and the workers make them side by side)."""

    table: pa.Table
    containers: dict[int, tuple[str, str]]
    """Container -> (its path, its kind) for those the rows name."""

    def sources(self) -> list[Source]:
        rows, containers = self.table.to_pydict(), self.containers
        return [
            Source(containers[c][0] + os.fsdecode(name), relpath, ident, ordinal, None, (device, inode))
            if name is not None
            else Source(
                containers[c][0], relpath, ident, ordinal, (offset, size), (device, inode), containers[c][1], content
            )
            for c, name, relpath, ident, ordinal, offset, size, device, inode, content in zip(*rows.values())
        ]


class _Candidates:
    """The walk's candidate sources, gathered in Python lists and turned into Arrow every _BATCH_ROWS."""

    def __init__(self):
        self.containers: dict[str, int] = {}
        self.kinds: list[str] = []
        self.columns: tuple[list, ...] = tuple([] for _ in _COLUMNS.names)
        self.chunks: tuple[list[pa.Array], ...] = tuple([] for _ in _COLUMNS.names)
        self.archives: list[tuple[str, str, tuple[int, int]]] = []
        """(path, relpath, identity) of the tar shards found, listed after the walk."""
        self.records: list[tuple[str, str, tuple[int, int]]] = []
        """(path, relpath, identity) of the files of records found (normalize.format), listed after the walk."""

    def container(self, path: str, kind: str = "file") -> int:
        """The number of a folder (``path`` ends with a separator; its files' kind is ``file``), a tar shard or a
        file of records, for ``add``."""
        if path not in self.containers:
            self.containers[path] = len(self.containers)
            self.kinds.append(kind)
        return self.containers[path]

    def add(
        self,
        container: int,
        name: str | None,
        relpath: str,
        identity: tuple[int, int],
        member: tuple[int, int] | None = None,
        ident: str | None = None,
        content: str | None = None,
    ) -> None:
        """``ident``: the id a record's field gives it (else its path's); ``content``: see Source.content."""
        ident, ordinal = (ident, None) if ident is not None else identify(relpath)
        containers, names, relpaths, ids, ordinals, offsets, sizes, devices, inodes, contents = self.columns
        containers.append(container)
        names.append(None if name is None else os.fsencode(name))
        relpaths.append(relpath)
        ids.append(ident)
        ordinals.append(ordinal)
        offsets.append(None if member is None else member[0])
        sizes.append(None if member is None else member[1])
        devices.append(identity[0])
        inodes.append(identity[1])
        contents.append(content)
        if len(ids) >= _BATCH_ROWS:
            self._flush()

    def add_columns(self, columns: dict[str, pa.Array | pa.ChunkedArray]) -> None:
        """Add candidates given as columns (``name`` left out: null), after those added before."""
        self._flush()
        rows = len(columns["id"])
        for chunks, column in zip(self.chunks, _COLUMNS):
            values = columns.get(column.name)
            values = pa.nulls(rows, column.type) if values is None else values
            chunks.extend(values.chunks if isinstance(values, pa.ChunkedArray) else [values])

    def _flush(self) -> None:
        for values, chunks, column in zip(self.columns, self.chunks, _COLUMNS):
            chunks.append(pa.array(values, column.type, memory_pool=_POOL))
            values.clear()

    def table(self) -> pa.Table:
        """All candidates, each column in one piece (``take`` on a column in many chunks copies all of it,
        every time), made a column at a time so that only one column is ever held twice."""
        self._flush()
        columns = []
        for chunks in self.chunks:
            columns.append(pa.concat_arrays(chunks, memory_pool=_POOL))
            chunks.clear()
        return pa.Table.from_arrays(columns, schema=_COLUMNS)


LISTING = pa.schema(
    [
        ("name", pa.binary()),  # as stored: UTF-8, undecodable bytes kept (surrogateescape)
        ("kind", pa.string()),
        ("size", pa.int64()),
        ("offset", pa.int64()),
        ("linkname", pa.binary()),
        ("content", pa.string()),  # the member's sha256, if a run read it whole
    ]
)
"""A tar shard's listing as a table: what the walk takes instead of inflating a shard it has listed before."""


def listing_table(members: list[archives.Member]) -> pa.Table:
    """A listing as LISTING rows (no content known)."""

    def encoded(texts):
        return [t.encode("utf-8", "surrogateescape") for t in texts]

    return pa.table(
        [
            encoded(m.name for m in members),
            [m.kind for m in members],
            [m.size for m in members],
            [m.offset for m in members],
            encoded(m.linkname for m in members),
            pa.nulls(len(members), pa.string()),
        ],
        schema=LISTING,
    )


def _members_of(table: pa.Table) -> tuple[list[archives.Member], dict[int, str]]:
    """A listing table's members, and the contents it knows by member offset."""
    rows = table.to_pydict()
    members = [
        archives.Member(
            name.decode("utf-8", "surrogateescape"), kind, size, offset, link.decode("utf-8", "surrogateescape")
        )
        for name, kind, size, offset, link in zip(
            rows["name"], rows["kind"], rows["size"], rows["offset"], rows["linkname"]
        )
    ]
    return members, {o: c for o, c in zip(rows["offset"], rows["content"]) if c is not None}


def plan(
    roots: list[str | Path],
    params: NormalizeParams,
    list_archives: Callable = map,
    listings: dict[str, pa.Table] | None = None,
) -> Plan:
    """Walk ``roots`` and decide, for every entry, read or reject. Several roots are prefixed by their names.

    The tar shards found are listed after the walk, by ``list_archives(archives.listing, paths)`` (an
    ordered map: the normalize stage passes its workers', so shards are listed side by side; the listing is
    given ``max_file_bytes``, the most it inflates of one member).

    Given ``listings`` (a tar shard's sha256 -> its LISTING table, from a previous run with the same settings),
    each tar shard of article files is hashed first (its compressed bytes: no inflating), and one whose sha256
    is there is listed from it, its members' contents known (Source.content); the plan's ``listings`` then
    holds every tar shard listed whole, for the next run.
    """
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
    candidates = _Candidates()
    for prefix, root in prefixes.items():
        _walk(root, [prefix] if prefix else [], os.path.realpath(root), params, candidates, result)
    found = candidates.archives
    if listings is None or params.format != "article_txt":  # a tar of records lists its records too: not cached
        digests: list[tuple[str, tuple] | None] = [None] * len(found)
    else:
        digests = list(list_archives(_archive_sha256, [(p, identity) for p, _, identity in found]))
    unknown = [i for i, digest in enumerate(digests) if digest is None or digest[0] not in listings]
    lister = functools.partial(_listing, params=params)
    listed = dict(zip(unknown, list_archives(lister, [(found[i][0], found[i][2]) for i in unknown])))
    for i, (path, relpath, identity) in enumerate(found):
        if i in listed:
            members, error, records_of = listed[i]
            container = _add_archive(
                path, relpath, identity, members, error, records_of, {}, params, candidates, result
            )
        else:
            error = None
            container = _add_listed(path, relpath, identity, listings[digests[i][0]], params, candidates, result)
        if digests[i] is not None and error is None:
            (digest, stamp), table = digests[i], listing_table(members) if i in listed else listings[digests[i][0]]
            result.listings[container] = (digest, table, stamp)
    listing = functools.partial(
        _list_records, kind=params.format, id_field=params.fields.id, max_bytes=params.max_file_bytes
    )
    listings = list_archives(listing, [(path, identity) for path, _, identity in candidates.records])
    for (path, relpath, identity), (found, error) in zip(candidates.records, listings):
        container = candidates.container(path, params.format)
        _add_records(container, relpath, identity, found, error, params.format, candidates, result)
    result.table = candidates.table()
    result.containers = list(candidates.containers)
    result.kinds = candidates.kinds
    del candidates
    result.order, duplicates = _source_order(result.table)
    result.rejected += duplicates
    result.rejected.sort(key=lambda r: r.path)
    return result


def _source_order(table: pa.Table) -> tuple[pa.Array, list[Rejected]]:
    """Rows of ``table`` in source order (ordinal, unnamed files last, then relative path) without the rows
    whose id an earlier row has; and those rows as Rejected, naming the row that keeps the id."""
    order = pc.sort_indices(
        table, [("ordinal", "ascending", "at_end"), ("relpath", "ascending", "at_end")], memory_pool=_POOL
    )
    ids = pc.take(table["id"], order, memory_pool=_POOL)
    by_id = pc.sort_indices(ids, memory_pool=_POOL)  # stable: within an id, source order
    grouped = pc.take(ids, by_id, memory_pool=_POOL)
    repeated = pc.equal(grouped.slice(1), grouped.slice(0, max(len(grouped) - 1, 0)), memory_pool=_POOL)
    del grouped
    later = pc.filter(
        by_id.slice(1), repeated, memory_pool=_POOL
    ).to_numpy()  # positions in ``order`` of every id's later rows
    del by_id, repeated
    if not len(later):
        return order, []
    keep = np.ones(len(order), dtype=bool)
    keep[later] = False
    keeper: dict[str, str] = {}
    duplicates = []
    taken = pc.is_in(ids, value_set=pa.array(set(ids.take(pa.array(later)).to_pylist()), pa.string()))
    for position in pc.indices_nonzero(taken).to_pylist():
        ident, relpath = ids[position].as_py(), table["relpath"][order[position].as_py()].as_py()
        if ident in keeper:
            duplicates.append(Rejected(relpath, "duplicate_id", f"id {ident} already taken by {keeper[ident]}"))
        else:
            keeper[ident] = relpath
    return pc.filter(order, pa.array(keep), memory_pool=_POOL), duplicates


def _walk(root: Path, parts: list[str], real_root: str, params, candidates: _Candidates, result: Plan) -> None:
    """Visit every entry under ``root``, folder by folder: a stack of folders, not recursion (a tree may be
    deeper than Python's stack)."""
    pending = [(os.fspath(root), parts)]
    while pending:
        directory, parts = pending.pop()
        try:
            with os.scandir(directory) as entries:  # in no particular order: the plan sorts what it found
                container = candidates.container(os.path.join(directory, ""))
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, [*parts, entry.name]))
                    else:
                        _visit(entry, [*parts, entry.name], container, real_root, params, candidates, result)
        except OSError as e:
            result.input_files += 1
            result.rejected.append(
                Rejected(display_path(parts) or ".", "unreadable", f"folder cannot be listed: {reason(e)}")
            )


def _visit(
    entry: os.DirEntry,
    relparts: list[str],
    container: int,
    real_root: str,
    params,
    candidates: _Candidates,
    result: Plan,
) -> None:
    relpath = display_path(relparts)
    outcome = _check_entry(entry, relpath, real_root)
    if isinstance(outcome, Rejected):
        result.input_files += 1
        result.rejected.append(outcome)
        return
    path, st = outcome
    identity = (st.st_dev, st.st_ino)
    if _matcher(params.archives)(entry.name):
        candidates.archives.append((path, relpath, identity))  # listed after the walk
        return
    if params.format != "article_txt" and _matcher(params.include)(entry.name):
        candidates.records.append((path, relpath, identity))  # each of its records is an input; listed after the walk
        return
    result.input_files += 1
    if (rejected := _check_name_and_size(entry.name, relpath, st.st_size, params)) is not None:
        result.rejected.append(rejected)
    elif path is entry.path:
        candidates.add(container, entry.name, relpath, identity)
    else:  # a link inside the tree: read its target, so that reading need not follow links
        folder, name = os.path.split(path)
        candidates.add(candidates.container(os.path.join(folder, "")), name, relpath, identity)


@functools.lru_cache
def _matcher(patterns: tuple[str, ...]):
    """One compiled regular expression for a tuple of glob patterns (fnmatch's, case-sensitive): its ``match``."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)", re.DOTALL).match


def _check_entry(entry: os.DirEntry, relpath: str, real_root: str) -> Rejected | tuple[str, os.stat_result]:
    """A Rejected for an entry that is no regular file inside the tree, else the path to read and its stat."""
    path = entry.path
    if entry.is_symlink():
        path = target = os.path.realpath(entry.path)
        if os.path.commonpath([target, real_root]) != real_root:
            return Rejected(relpath, "symlink_outside_tree", "link points outside the source folder")
        if not os.path.exists(target):
            return Rejected(relpath, "broken_symlink", "link points to nothing")
        if os.path.isdir(target):
            return Rejected(relpath, "symlink_to_directory", "linked folders are not followed")
    try:
        st = entry.stat()
    except OSError as e:
        return Rejected(relpath, "unreadable", reason(e))
    if not stat.S_ISREG(st.st_mode):
        return Rejected(relpath, "not_a_regular_file", "a device, pipe or socket")
    return path, st


def _check_name_and_size(name: str, relpath: str, size: int, params: NormalizeParams) -> Rejected | None:
    if not _matcher(params.include)(name):
        return Rejected(relpath, NOT_A_DOCUMENT, f"name matches none of {', '.join(params.include)}")
    if size > params.max_file_bytes:
        return Rejected(relpath, "too_large", f"{size} bytes > max_file_bytes {params.max_file_bytes}")
    return None


def _list_records(file: tuple[str, tuple[int, int]], kind: str, id_field: str, max_bytes: int):
    """``records.listing`` of a (path, identity) pair: a module-level function, for the workers."""
    path, identity = file
    return records.listing(path, kind, id_field, max_bytes, identity)


def _add_records(
    container: int,
    relpath: str,
    identity: tuple[int, int],
    found: list[records.Record],
    error: Exception | None,
    kind: str,
    candidates: _Candidates,
    result: Plan,
) -> None:
    """Every record of a file (or a tar member) as a Source or a Rejected, named ``<file>:<line or row, 9
    digits>`` (so that the names sort in the file's order). A file whose listing stopped keeps the records
    before; one with none is one Rejected itself, like an empty tar shard."""
    result.input_files += len(found)
    for record in found:
        name = f"{relpath}:{record.number:09d}"
        if record.problem is not None:
            result.rejected.append(Rejected(name, *record.problem))
        else:
            candidates.add(container, None, name, identity, (record.start, record.size), record.key)
    if isinstance(error, Changed):
        result.input_files += 1
        result.rejected.append(Rejected(relpath, CHANGED, f"{error} (after {len(found)} records)"))
    elif error is not None:
        result.input_files += 1
        detail = f"{type(error).__name__}: {first_line(error)}"
        result.rejected.append(Rejected(relpath, "damaged_file", f"{detail} (after {len(found)} records)"))
    elif not found:
        result.input_files += 1
        result.rejected.append(Rejected(relpath, "no_records", f"no {kind} record in it"))


def _listing(shard: tuple[str, tuple[int, int]], params: NormalizeParams):
    """``archives.listing`` of a (path, identity) pair, and with format jsonl the records of each JSONL member
    (``records.member_listings``, by the member's offset): a module-level function, for the workers."""
    path, identity = shard
    if params.format == "article_txt":
        return *archives.listing(path, params.max_file_bytes, identity), {}
    members, error = archives.listing(path, archives.UNBOUNDED, identity)  # a member of records may be of any size
    regions = [(m.offset, m.size) for m in members if isinstance(_check_member(m, "", params), str)]
    if params.format != "jsonl" or not regions:
        return members, error, {}
    listed = records.member_listings(path, regions, params.fields.id, params.max_file_bytes, identity)
    return members, error, {offset: found for (offset, _), found in zip(regions, listed)}


def _archive_sha256(shard: tuple[str, tuple[int, int]]) -> tuple[str, tuple] | None:
    """The sha256 of a tar shard's bytes as they are stored, and its stat then (``_stamp``): a module-level
    function, for the workers. None if it cannot be read as the walk saw it (listing it then says why), or was
    written while it was hashed."""
    path, identity = shard
    try:
        with open_planned(path, identity) as f:
            stamp = _stamp(os.fstat(f.fileno()))
            digest = known_sha256(f, ctime=True)
            if _stamp(os.fstat(f.fileno())) != stamp:
                return None
    except (OSError, Changed):
        return None
    return digest, stamp


def _stamp(st: os.stat_result) -> tuple:
    """What changes when a file is written, even in place with its time set back: its ctime, with its identity,
    size and mtime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _add_archive(
    path: str,
    relpath: str,
    identity: tuple[int, int],
    members: list[archives.Member],
    error: Exception | None,
    records_of: dict[int, tuple[list[records.Record], Exception | None]],
    contents: dict[int, str],
    params: NormalizeParams,
    candidates: _Candidates,
    result: Plan,
) -> int:
    """Every member listed in the tar shard at ``path`` as a Source or a Rejected, from its headers alone; with
    format jsonl, every record of each JSONL member (``records_of``, by the member's offset). ``contents``: the
    members' sha256s a previous listing knows, by offset. Returns the shard's container number.

    A damaged shard (``error``) keeps the members listed before the damage and
    adds one Rejected for the rest, like a folder that cannot be listed. A shard
    with no members to account for is one Rejected itself, so that every shard counts.
    """
    archive = candidates.container(path, "jsonl" if params.format == "jsonl" else "tar")
    for member in members:
        outcome = _check_member(member, relpath, params)
        if isinstance(outcome, Rejected):
            result.input_files += 1
            result.rejected.append(outcome)
        elif member.offset in records_of:
            _add_records(archive, outcome, identity, *records_of[member.offset], "jsonl", candidates, result)
        else:
            result.input_files += 1
            candidates.add(
                archive, None, outcome, identity, (member.offset, member.size), content=contents.get(member.offset)
            )
    if isinstance(error, Changed):
        result.input_files += 1
        result.rejected.append(Rejected(relpath, CHANGED, f"{error} (after {len(members)} members)"))
    elif error is not None:
        result.input_files += 1
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        result.rejected.append(Rejected(relpath, "damaged_archive", f"{detail} (after {len(members)} members)"))
    elif not members:
        result.input_files += 1
        result.rejected.append(Rejected(relpath, "empty_archive", "no members, or only folders"))
    return archive


_KEYED = KEYED_NAME.pattern
"""Taken by Arrow's RE2, where a digit is an ASCII one and ``$`` the end alone: a name it matches, Python's
``KEYED_NAME`` matches with the same groups (not always the other way round)."""


def _add_listed(
    path: str,
    relpath: str,
    identity: tuple[int, int],
    table: pa.Table,
    params: NormalizeParams,
    candidates: _Candidates,
    result: Plan,
) -> int:
    """``_add_archive`` of a tar shard listed before (``table``: its LISTING rows), a column at a time when every
    member is a regular file at the top of the shard, named ``NNN_<16 hex>.txt`` by a name ``include`` takes, and
    of at most ``max_file_bytes``: the Sources ``_add_archive`` would add, in its order, without a Python object
    per member. Any other shard goes through ``_add_archive``."""
    keyed = pc.extract_regex(table["name"], _KEYED)
    plain = (
        params.format == "article_txt"
        and table.num_rows > 0
        and keyed.null_count == 0
        and pc.all(pc.equal(table["kind"], archives.REGULAR)).as_py()
        and pc.max(table["size"]).as_py() <= params.max_file_bytes
    )
    names = table["name"].cast(pa.string()) if plain else None  # ASCII: each matched _KEYED
    if not plain or not all(map(_matcher(params.include), names.to_pylist())):
        members, contents = _members_of(table)
        return _add_archive(path, relpath, identity, members, None, {}, contents, params, candidates, result)
    archive = candidates.container(path, "tar")
    ordinals, keys = (pc.struct_field(keyed, name) for name in ("ordinal", "key"))
    candidates.add_columns(
        {
            "container": pa.array([archive] * table.num_rows, pa.int32()),
            "relpath": pc.binary_join_element_wise(display_path([relpath, ""]), names, ""),
            "id": pc.utf8_lower(keys.cast(pa.string())),
            "ordinal": ordinals.cast(pa.string()).cast(pa.int64()),
            "offset": table["offset"],
            "size": table["size"],
            "device": pa.array([identity[0]] * table.num_rows, pa.uint64()),
            "inode": pa.array([identity[1]] * table.num_rows, pa.uint64()),
            "content": table["content"],
        }
    )
    result.input_files += table.num_rows
    return archive


def _check_member(member: archives.Member, archive: str, params: NormalizeParams) -> str | Rejected:
    """The relative path of a tar member to read, or why it is not read."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts:
        return Rejected(
            display_path([archive, name]),
            "unsafe_member_path",
            f"member path {name!r} is absolute, empty or leaves the archive",
        )
    shown = display_path([archive, *parts])
    if member.kind in (archives.SYMLINK, archives.HARDLINK):
        return Rejected(
            shown,
            "link_in_archive",
            f"a {'symbolic' if member.kind == archives.SYMLINK else 'hard'} link to {member.linkname!r}",
        )
    if member.kind != archives.REGULAR:
        return Rejected(shown, "not_a_regular_file", "a device, pipe, sparse or other special member")
    if params.format in ("csv", "parquet") and _matcher(params.include)(parts[-1]):
        return Rejected(shown, "format_in_archive", f"{params.format} files are not read from tar shards (JSONL are)")
    if params.format == "jsonl" and parts[-1].lower().endswith((".gz", ".zst")) and _matcher(params.include)(parts[-1]):
        return Rejected(shown, "format_in_archive", "compressed JSONL is not read from tar shards (plain JSONL is)")
    size = 0 if params.format == "jsonl" else member.size  # a member of records may be of any size, not its records
    return _check_name_and_size(parts[-1], shown, size, params) or shown
