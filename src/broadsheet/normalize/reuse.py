"""Incremental normalisation: reuse what the previous output holds of the sources that did not change.

A shard's key is a hash of the normaliser's fingerprint (the code and schemas
the normalize stage depends on, the libraries that shape the text, the params) and of each of its
sources (path, id, ordinal, sha256 of the raw bytes). The normalize output keeps
an index (``shards.json``) of every shard's key, file, checksum, span (its first
and last source in source order) and what was turned away. Reuse works at two grains:

- a shard whose key is in the previous output's index is that output's file,
  put in place by ``core.files.keep`` (a hard link: DVC's state knows its hash)
  and checked against the index's checksum, not normalised again;
- in a shard whose key is not (it gained, lost or changed a source), each source
  whose record the previous output holds, written under the same fingerprint from
  the same path, id, ordinal and raw sha256, takes that record's row from the
  previous Parquet file (``Earlier``); only the others are normalised and filtered
  again. A source the previous output rejected or filtered has no row, so it is
  read through again.

A worker finds a source's previous row without any per-record lookup being
sent or built for the whole corpus: it takes the previous shards whose spans
overlap its own shard's (one or two, since both are cut in the same source
order), checks each file's checksum, reads the identity columns, and then only
the row groups holding the rows it takes. A record is a pure function of its
source and raw bytes under one fingerprint, and a shard of its key, so the
output is byte for byte the one a fresh run gives.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet.core import provenance, schema
from broadsheet.core.files import keep_checked, previous_bytes
from broadsheet.core.state import SHA256
from broadsheet.core.values import Source
from broadsheet.inputs import archives, walk
from broadsheet.normalize.folder import ARCHIVES, COUNTED, INDEX, shard_name

LIBRARIES = ("pyarrow", "pycld2", "ftfy", "charset-normalizer", "budoux")
"""The distributions whose versions can change a record (tests/test_stage_deps.py holds them to the imports)."""
IDENTITY = ["id", "source.path", "source.ordinal", "source.raw_sha256"]
"""The columns of a previous shard that say which source, and which bytes of it, each row came from."""


def fingerprint(*settings) -> str:
    """What, besides its sources, decides a shard's bytes: code, libraries, Unicode data, ``settings`` (dataclasses)."""
    digest = hashlib.sha256(provenance.code_sha256("normalize").encode())
    versions = {name: metadata.version(name) for name in LIBRARIES}
    environment = {"python": sys.version_info[:2], "unicode": unicodedata.unidata_version, "libraries": versions}
    digest.update(json.dumps(environment, sort_keys=True).encode())
    for setting in settings:
        digest.update(json.dumps(dataclasses.asdict(setting), sort_keys=True, default=list).encode())
    return digest.hexdigest()


def shard_key(fingerprint: str, sources: list, contents: list[str]) -> str:
    """The key of a shard: the fingerprint and, for each source, its identity and its content (the sha256 of
    its bytes, or why they were not had)."""
    digest = hashlib.sha256(fingerprint.encode())
    for source, content in zip(sources, contents):
        digest.update(
            f"{source.relpath}\0{source.id}\0{source.ordinal}\0{content}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest()


def span(shard: list[Source]) -> list:
    """A shard's first and last source as the index keeps them: [ordinal, relpath] each."""
    return [[shard[0].ordinal, shard[0].relpath], [shard[-1].ordinal, shard[-1].relpath]]


def _place(ordinal: int | None, relpath: str) -> tuple:
    """A source's place in source order (ordinal, unnamed files last, then path), as ``inputs.walk`` sorts them.

    Only finding a previous row depends on it agreeing with that sort; whether the row is taken does not.
    """
    return (ordinal is None, ordinal or 0, relpath)


@dataclass(frozen=True)
class Entry:
    """One shard of a previous output, as its index describes it."""

    folder: Path
    file: str | None
    sha256: str | None
    places: tuple[tuple, tuple]
    """Places (``_place``) of the shard's first and last source."""
    record: dict
    """The index row itself: key, span, rows, rejected, filtered, counts."""

    def keep(self, folder: Path) -> bool:
        """Put the shard's file in the new output ``folder``, under its name (``core.files.keep``), if it is
        still what the index says; else leave nothing there and return False (normalise it again). True at once
        for a shard without a file."""
        if self.file is None:
            return True
        path = folder / shard_name(self.sha256)
        if not keep_checked(self.folder / self.file, path, self.sha256):
            return False
        try:  # and it holds the rows the index says
            if pq.ParquetFile(path).metadata.num_rows == self.record["rows"]:
                return True
        except (OSError, pa.ArrowException):
            pass
        path.unlink(missing_ok=True)
        return False


@dataclass(frozen=True)
class Earlier:
    """Where a previous output written under the current fingerprint holds its rows: each shard's file,
    checksum and span, a few values per shard (sent to every worker once), never a value per record."""

    folder: Path
    files: tuple[str, ...]
    sha256s: tuple[str, ...]
    firsts: tuple[tuple, ...]
    lasts: tuple[tuple, ...]
    """Places (``_place``) of each shard's first and last source; the shards are in source order."""

    def rows(self, shard: list[Source], contents: list[str]) -> Kept:
        """The rows of the previous output that are the records of ``shard``'s sources, those whose path,
        id, ordinal and raw sha256 (``contents``) are a row's; a previous file that is not what the index
        says gives none."""
        first, last = _place(shard[0].ordinal, shard[0].relpath), _place(shard[-1].ordinal, shard[-1].relpath)
        kept = Kept()
        for n in range(bisect.bisect_left(self.lasts, first), bisect.bisect_right(self.firsts, last)):
            data = previous_bytes(self.folder / self.files[n], self.sha256s[n])
            if data is not None:
                parquet = pq.ParquetFile(pa.BufferReader(data))
                positions, rows = _matches(shard, contents, parquet.read(columns=IDENTITY))
                if rows:
                    kept = kept.add(positions, _take(parquet, rows))
        return kept


@dataclass(frozen=True)
class Kept:
    """The previous rows a shard takes: ``table``'s row ``at[i]`` is the record of the shard's source i."""

    at: dict[int, int] = field(default_factory=dict)
    table: pa.Table | None = None

    def add(self, positions: list[int], rows: pa.Table) -> Kept:
        offset = 0 if self.table is None else self.table.num_rows
        table = rows if self.table is None else pa.concat_tables([self.table, rows])
        return Kept({**self.at, **{p: offset + k for k, p in enumerate(positions)}}, table)


def _matches(shard: list[Source], contents: list[str], identity: pa.Table) -> tuple[list[int], list[int]]:
    """Positions in ``shard`` of the sources that ``identity`` (a previous shard's IDENTITY columns) holds
    the record of, and the rows holding them, in the same order."""
    source = identity.column("source").combine_chunks()
    found = pc.index_in(pa.array([s.relpath for s in shard], pa.string()), value_set=pc.struct_field(source, "path"))
    ids, ordinals, hashes = (
        identity.column("id").to_pylist(),
        pc.struct_field(source, "ordinal").to_pylist(),
        pc.struct_field(source, "raw_sha256").to_pylist(),
    )
    positions, rows = [], []
    for i, row in enumerate(found.to_pylist()):
        # contents[i] is a raw sha256 only when the bytes were read: a reason never equals one
        if row is not None and (ids[row], ordinals[row], hashes[row]) == (shard[i].id, shard[i].ordinal, contents[i]):
            positions.append(i)
            rows.append(row)
    return positions, rows


def _take(parquet: pq.ParquetFile, rows: list[int]) -> pa.Table:
    """Rows ``rows`` of a Parquet file, in that order, reading only the row groups that hold them."""
    sizes = np.array([parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    wanted = np.asarray(rows, dtype=np.int64)
    group = np.searchsorted(starts, wanted, side="right") - 1
    read = np.unique(group)
    landed = np.zeros(len(sizes), dtype=np.int64)  # where each group read starts in the table read
    landed[read] = np.concatenate([[0], np.cumsum(sizes[read])[:-1]])
    taken = parquet.read_row_groups(read.tolist()).take(wanted - starts[group] + landed[group])
    return pa.Table.from_arrays(taken.columns, schema=schema.document().arrow)


ARCHIVE_LISTINGS = pa.schema([("archive", pa.string()), *walk.LISTING])
"""``archives.parquet``: each tar shard's listing (``inputs.walk.LISTING``) under the sha256 of the shard."""
_SHA256 = "^[0-9a-f]{64}$"


def archive_listings(
    listed: dict[int, tuple[str, pa.Table]], containers: pa.Array, offsets: pa.Array, contents: pa.Array
) -> pa.Table | None:
    """This run's tar listings (``Plan.unchanged_listings``), each member with the sha256 its key took when it is one
    (``containers``, ``offsets``, ``contents``: of the plan's sources in source order); one listing per shard
    sha256 (copies of a shard: what any of them read), sorted by it. None when no tar shard was listed."""
    if not listed:
        return None
    read = pc.and_(
        pc.match_substring_regex(contents, _SHA256),  # a reason it was not read is no sha256
        pc.is_in(containers, value_set=pa.array(list(listed), containers.type)),
    )
    containers, offsets, contents = (pc.filter(column, read) for column in (containers, offsets, contents))
    by_container = pc.sort_indices(containers)  # each container's sources one run: found by bisection, not a scan
    containers, offsets, contents = (pc.take(column, by_container) for column in (containers, offsets, contents))
    runs = containers.to_numpy()
    by_digest: dict[str, tuple[pa.Table, pa.Array]] = {}
    for container, (digest, table) in listed.items():
        start, stop = np.searchsorted(runs, [container, container + 1]).tolist()
        mine = pc.index_in(table["offset"], value_set=offsets.slice(start, stop - start))
        found = pc.take(contents.slice(start, stop - start), mine)
        if digest in by_digest:
            found = pc.coalesce(by_digest[digest][1], found)
        by_digest[digest] = (table, found)
    return pa.concat_tables(
        pa.Table.from_arrays(
            [pa.array([digest] * table.num_rows, pa.string()), *table.columns[:-1], found], schema=ARCHIVE_LISTINGS
        )
        for digest, (table, found) in sorted(by_digest.items())
    )


_KINDS = pa.array([archives.REGULAR, archives.SYMLINK, archives.HARDLINK, archives.SPECIAL])


def _sound(table: pa.Table) -> bool:
    """Whether an ``archives.parquet`` table is one this code writes: every value there and in range, the rows
    sorted by archive, then offset. (A damaged one is not taken at all: its shards are listed again.)"""
    if any(table[name].null_count for name in table.column_names if name != "content"):
        return False
    archive, offset, content = table["archive"], table["offset"], pc.fill_null(table["content"], "0" * 64)
    tail, head = table.slice(1), table.slice(0, max(table.num_rows - 1, 0))
    same = pc.equal(tail["archive"], head["archive"])
    ordered = pc.or_(
        pc.greater(tail["archive"], head["archive"]), pc.and_(same, pc.greater(tail["offset"], head["offset"]))
    )
    checks = [
        pc.match_substring_regex(archive, _SHA256),
        pc.match_substring_regex(content, _SHA256),
        pc.is_in(table["kind"], value_set=_KINDS),
        pc.greater_equal(table["size"], 0),
        pc.greater_equal(offset, archives.BLOCK),
        pc.equal(pc.bit_wise_and(offset, archives.BLOCK - 1), 0),
        ordered,
    ]
    return all(pc.all(check).as_py() is not False for check in checks)


def _listings(table: pa.Table) -> dict[str, pa.Table]:
    """The listings of an ``archives.parquet`` table (sorted by archive) by shard sha256."""
    counts = pc.value_counts(table["archive"])  # in order of first appearance: the sorted order
    found, start = {}, 0
    for digest, count in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
        found[digest] = table.slice(start, count).drop_columns(["archive"])
        start += count
    return found


@dataclass(frozen=True)
class Previous:
    """The index of a previous output: its shards by key and by checksum, and the fingerprint it was made with."""

    fingerprint: str | None = None
    entries: dict[str, Entry] = field(default_factory=dict)
    folder: Path | None = None
    archives: str | None = None
    """The sha256 of its ``archives.parquet``, the tar listings (None: it has none)."""

    def listings(self, fingerprint: str) -> dict[str, pa.Table]:
        """Its tar listings by shard sha256, if it was made with ``fingerprint`` and the file is what the index
        says; else none."""
        if fingerprint != self.fingerprint or self.archives is None:
            return {}
        data = previous_bytes(self.folder / ARCHIVES, self.archives)
        try:
            table = pq.ParquetFile(pa.BufferReader(data)).read() if data is not None else None
        except pa.ArrowException:
            return {}
        if table is None or not table.schema.equals(ARCHIVE_LISTINGS) or not _sound(table):
            return {}
        return _listings(table)

    def by_sha256(self) -> dict[str, Entry]:
        return {entry.sha256: entry for entry in self.entries.values() if entry.file is not None}

    def earlier(self, fingerprint: str) -> Earlier | None:
        """Where this output's rows are, if it was made with ``fingerprint`` (else no row of it is this run's)."""
        with_rows = [e for e in self.entries.values() if e.file is not None]
        if fingerprint != self.fingerprint or not with_rows:
            return None
        return Earlier(
            with_rows[0].folder,
            tuple(e.file for e in with_rows),
            tuple(e.sha256 for e in with_rows),
            tuple(e.places[0] for e in with_rows),
            tuple(e.places[1] for e in with_rows),
        )


def previous(folder: Path) -> Previous:
    """The index of the normalize output ``folder``; empty when there is none, or it is not one this code wrote."""
    try:
        index = json.loads(previous_bytes(folder / INDEX) or b"")
        entries = {row["key"]: _entry(folder, row) for row in index["shards"]}
        files = [entry.file for entry in entries.values() if entry.file is not None]
        if len(entries) != len(index["shards"]) or len(set(files)) != len(files):
            raise ValueError("a key or a file twice")  # each names a file this run writes: they must not meet
        archives = index.get("archives")
        return Previous(index["fingerprint"], entries, folder, archives if isinstance(archives, str) else None)
    except (ValueError, KeyError, TypeError):
        return Previous()


def _entry(folder: Path, row: dict) -> Entry:
    # The whole index is then not taken. The sha256 names the file this run puts the shard in.
    if row["file"] is not None and not (SHA256.fullmatch(row["sha256"]) and row["file"] == shard_name(row["sha256"])):
        raise ValueError(f"not a shard of the folder: {row['file']!r}, {row['sha256']!r}")
    if not _accounting(row):
        raise ValueError(f"an index row of another shape: {row['key']!r}")
    (first_ordinal, first_path), (last_ordinal, last_path) = row["span"]
    if not all(_is(o, int) or o is None for o in (first_ordinal, last_ordinal)) or not (
        _is(first_path, str) and _is(last_path, str)
    ):
        raise ValueError(f"a span of another shape: {row['span']!r}")
    places = (_place(first_ordinal, first_path), _place(last_ordinal, last_path))
    return Entry(folder, row["file"], row["sha256"], places, row)


_REJECTED = {"path": str, "reason": str, "detail": str}
_FILTERED = {"id": str, "path": str, "reason": str, "value": (int, float, type(None)), "detail": str}
"""The fields of ``core.values.Rejected`` and ``Filtered`` as an index row holds them, and their JSON types."""


def _is(value, kind) -> bool:
    """Whether a JSON value is of ``kind``; true and false are no numbers here."""
    return isinstance(value, kind) and not isinstance(value, bool)


def _shaped(value, fields: dict) -> bool:
    return isinstance(value, dict) and value.keys() == fields.keys() and all(_is(value[k], fields[k]) for k in fields)


def _accounting(row: dict) -> bool:
    """Whether an index row's accounting is of the shape this code writes: the stage takes it as it stands
    for a shard it keeps (a row is not trusted to be a dict of lists of dicts)."""
    rows, rejected, filtered, counts = row["rows"], row["rejected"], row["filtered"], row["counts"]
    return (
        _is(row["key"], str)
        and _is(rows, int)
        and rows >= 0
        and isinstance(rejected, list)
        and all(_shaped(r, _REJECTED) for r in rejected)
        and isinstance(filtered, list)
        and all(_shaped(f, _FILTERED) for f in filtered)
        and isinstance(counts, dict)
        and set(counts) <= set(COUNTED)
        and all(isinstance(c, dict) and all(_is(n, int) and n >= 0 for n in c.values()) for c in counts.values())
    )
