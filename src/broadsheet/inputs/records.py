"""Files of many records: JSON Lines (plain, gzip or zstd), CSV and Parquet, each record one input.

Like a tar shard, a file of records is listed first (where each record is, and
its id when a field gives one; in a worker, side by side) and its records are
read later, one at a time, by where they are: a JSONL or CSV record by its
bytes' offset and length in the (uncompressed) file, a Parquet record by its
row group and row. What is read is the record as a JSON object's bytes, whatever
the format, for ``text.document.normalize_record``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet.inputs import archives
from broadsheet.inputs.opening import open_planned

FORMATS = ("jsonl", "csv", "parquet")
ERRORS = (csv.Error, UnicodeDecodeError, IndexError, StopIteration, pa.ArrowException, OverflowError)
"""What reading a record of a file changed or damaged since its listing raises, besides archives.ERRORS."""
CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20
BAD_RECORD = "bad_record"


class TooLarge(Exception):
    """A record found larger than max_file_bytes only when read (a Parquet row: its size is not in the listing)."""


class Record(NamedTuple):
    """Where one record of a file is, and what its listing found out."""

    number: int
    """Its line (JSONL; for CSV the line it starts on) or row (Parquet), from 1."""
    start: int
    """JSONL, CSV: the offset of its bytes in the uncompressed file; Parquet: its row group."""
    size: int
    """JSONL, CSV: how many bytes; Parquet: its row in the row group."""
    key: str | None = None
    """The id its id field gives it, when one is chosen."""
    problem: tuple[str, str] | None = None
    """(reason, detail) when the listing already knows it is no record."""


def key_of(value) -> str | None:
    """A record's id from its id field's value: 16 hex digits of its hash, stable as long as the value is."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":  # a float is no stable id
        return None
    return hashlib.sha256(f"field\0{value}".encode("utf-8", "surrogatepass")).hexdigest()[:16]  # a \ud800 too


def listing(
    path: str, kind: str, id_field: str, max_bytes: int, identity=None
) -> tuple[list[Record], Exception | None]:
    """The records of the file at ``path``, and the error that stopped the listing (None if none)."""
    found: list[Record] = []
    try:
        {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[kind](path, id_field, max_bytes, identity, found)
    except Exception as e:  # noqa: BLE001 - the errors of a damaged file (pyarrow's for Parquet are many) are reasons
        return found, e
    return found, None


def member_listings(
    path: str, members: list[tuple[int, int]], id_field: str, max_bytes: int, identity=None
) -> list[tuple[list[Record], Exception | None]]:
    """The JSONL records of each member ((offset, size), in the order the tar at ``path`` holds them), read in one
    pass over the tar; with each, the error that stopped its listing (None if none)."""
    listings = []
    try:
        stream = archives.open_stream(path, identity, spill=False)
    except Exception as e:  # noqa: BLE001 - as in listing
        return [([], e) for _ in members]
    with stream:
        for within in members:
            found: list[Record] = []
            try:
                _jsonl_lines(stream, within, id_field, max_bytes, found)
            except Exception as e:  # noqa: BLE001 - as in listing
                listings.append((found, e))
                continue
            listings.append((found, None))
    return listings


def _check(number: int, start: int, data: bytes, id_field: str, max_bytes: int, found: list[Record]) -> None:
    if len(data) > max_bytes:
        found.append(Record(number, start, len(data), None, ("too_large", f"{len(data)} bytes > max_file_bytes")))
        return
    if not id_field:
        found.append(Record(number, start, len(data)))
        return
    try:
        parsed = json.loads(data.decode("utf-8-sig"))  # decoded first: json.loads would take UTF-16 bytes too
    except UnicodeDecodeError:
        found.append(Record(number, start, len(data), None, ("undecodable", f"line {number} is not UTF-8")))
        return
    except (ValueError, RecursionError) as e:
        found.append(Record(number, start, len(data), None, (BAD_RECORD, f"line {number} is not JSON: {str(e)[:80]}")))
        return
    if not isinstance(parsed, dict):
        detail = f"line {number} is a JSON {type(parsed).__name__}, not an object"
        found.append(Record(number, start, len(data), None, (BAD_RECORD, detail)))
        return
    key = key_of(parsed.get(id_field))
    problem = None if key else ("missing_field", f"no {id_field!r} (a string or an integer) in record {number}")
    found.append(Record(number, start, len(data), key, problem))


_LINE = re.compile(rb"[^\n]+\n")


def _lines(stream, max_bytes: int, within: tuple[int, int] | None = None, blank: bool = True, skip_long=False):
    """(offset, number, bytes) of each line of a byte stream (``within``: of its bytes from offset to offset +
    size), its newline included, numbered from 1; without ``blank``, lines with no byte before the newline are
    counted but not yielded (found in C: a run of a million newlines is no million Python steps). A line past
    max_bytes is not held whole: with ``skip_long`` it is (offset, number, its length), read past; else damage."""
    offset, left = within or (0, None)
    stream.seek(offset)
    pending, number = b"", 0
    skipping: tuple[int, int] | None = None  # (offset, length so far) of an over-long line being read past
    while True:
        chunk = stream.read(CHUNK if left is None else min(CHUNK, left))
        if left is not None:
            left -= len(chunk)
        if not chunk:
            if skipping:
                yield skipping[0], number + 1, skipping[1]
            elif pending:
                yield offset, number + 1, pending
            return
        if skipping:
            newline = chunk.find(b"\n")
            if newline == -1:
                skipping, offset = (skipping[0], skipping[1] + len(chunk)), offset + len(chunk)
                continue
            number += 1
            yield skipping[0], number, skipping[1] + newline + 1
            skipping, offset, chunk = None, offset + newline + 1, chunk[newline + 1 :]
        data = pending + chunk
        end = data.rfind(b"\n") + 1
        complete, pending = data[:end], data[end:]
        at = 0
        if blank:
            while (newline := complete.find(b"\n", at)) != -1:
                number += 1
                yield offset + at, number, complete[at : newline + 1]
                at = newline + 1
        else:
            for match in _LINE.finditer(complete):
                number += complete.count(b"\n", at, match.start()) + 1
                at = match.end()
                yield offset + match.start(), number, match.group()
            number += complete.count(b"\n", at)
        offset += len(complete)
        if len(pending) > max_bytes + 1:
            if not skip_long:
                raise archives.DamagedArchive(f"a line at byte {offset} is longer than max_file_bytes {max_bytes}")
            skipping, offset, pending = (offset, len(pending)), offset + len(pending), b""


def _jsonl(path, id_field, max_bytes, identity, found) -> None:
    with archives.open_stream(path, identity, spill=False) as stream:
        _jsonl_lines(stream, None, id_field, max_bytes, found)


def _jsonl_lines(stream, within, id_field, max_bytes, found) -> None:
    """Lines of a JSON Lines file (or of the bytes ``within`` a stream); blank ones are no records."""
    for start, number, line in _lines(stream, max_bytes, within, blank=False, skip_long=True):
        if isinstance(line, int):
            found.append(Record(number, start, line, None, ("too_large", f"{line} bytes > max_file_bytes")))
        elif line.strip():
            _check(number, start, line.rstrip(b"\n"), id_field, max_bytes, found)


def _csv(path, id_field, max_bytes, identity, found) -> None:
    """Rows of a CSV file with a header; a row spans lines where a quoted field holds newlines. Rows are read as
    UTF-8 (a BOM before the header is skipped): a row that is not is rejected, not the file."""
    with archives.open_stream(path, identity, spill=False) as stream:
        reader, read_to = _csv_reader(stream, max_bytes)
        header = next(reader, None)
        if header is None:
            return
        if twice := sorted({name for name in header if header.count(name) > 1}):
            raise archives.DamagedArchive(f"the header names the column {twice[0]!r} more than once")
        end, lines, _ = read_to[-1]
        while True:
            start, number = end, lines + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:  # the reader starts afresh at the next line
                end, lines, _ = read_to[-1]
                found.append(Record(number, start, end - start, None, (BAD_RECORD, _csv_error(number, e))))
                continue
            end, lines, undecodable = read_to[-1]
            size = end - start
            if not row:
                continue  # a blank line is no row
            if size > max_bytes:
                found.append(Record(number, start, size, None, ("too_large", f"{size} bytes > max_file_bytes")))
            elif undecodable >= start:
                problem = ("undecodable", f"the row at line {number} is not UTF-8")
                found.append(Record(number, start, size, None, problem))
            elif len(row) != len(header):
                detail = f"the row at line {number} has {len(row)} fields, the header {len(header)}"
                found.append(Record(number, start, size, None, (BAD_RECORD, detail)))
            elif id_field:
                key = key_of(dict(zip(header, row)).get(id_field))
                problem = None if key else ("missing_field", f"no {id_field!r} in the row at line {number}")
                found.append(Record(number, start, size, key, problem))
            else:
                found.append(Record(number, start, size))


def _csv_reader(stream, max_bytes: int):
    """A csv reader over a byte stream, and a list whose last item is (the offset, the lines) it has read to, and
    where the last line that is not UTF-8 starts (-1: none yet): the reader takes a line at a time, so after a
    row that is where the row ends."""
    read_to = [(0, 0, -1)]

    def lines():
        for offset, count, line in _lines(stream, max_bytes):
            try:
                text = line.decode("utf-8-sig" if count == 1 else "utf-8")
                undecodable = read_to[-1][2]
            except UnicodeDecodeError:
                text, undecodable = line.decode("utf-8", "replace"), offset
            read_to.append((offset + len(line), count, undecodable))
            yield text

    csv.field_size_limit(max(max_bytes, MAX_HEADER_BYTES))  # a longer row is too_large, not the end of the file
    return csv.reader(lines(), strict=True), read_to


def _csv_error(number: int, error: csv.Error) -> str:
    if "new-line character" in str(error):
        return f"the row at line {number} has a carriage return in a field without quotes"
    if "unexpected end of data" in str(error):
        return f"the row at line {number} opens a quote that the file never closes"
    return f"the row at line {number} is not CSV: {str(error)[:80]}"


def _parquet(path, id_field, max_bytes, identity, found) -> None:
    """Rows of a Parquet file; of each row group only the id column is read here (a row is too large only when
    read: see ``read``)."""
    with open_planned(path, identity) as f:
        parquet = pq.ParquetFile(f)
        has_id = id_field in parquet.schema_arrow.names
        number = 0
        for group in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            keys = (
                _as_text(parquet.read_row_group(group, columns=[id_field], use_threads=False).column(0)).to_pylist()
                if has_id
                else [None] * rows
            )
            for row, value in enumerate(keys):
                number += 1
                if id_field and key_of(value) is None:
                    problem = ("missing_field", f"no {id_field!r} in row {number}")
                    found.append(Record(number, group, row, None, problem))
                else:
                    found.append(Record(number, group, row, key_of(value) if id_field else None))


_open: dict = {}
"""The CSV header or the Parquet file read last in this process, by path and ``archives.signature``: records are
read in order, so each file's header is read once and each Parquet file is opened once and read batch by batch."""
READ_BATCH_ROWS = 64


def read(path: str, kind: str, member: tuple[int, int], identity, max_bytes: int, fields) -> bytes:
    """The record at ``member`` of the file at ``path`` (``Record.start``, ``Record.size``) as JSON bytes; of a
    Parquet row only the columns ``fields`` (``FieldsParams``) names (a column of raw hashes is no reason to
    reject a row, nor to decode it)."""
    start, size = member
    if kind == "jsonl":
        return archives.read_member(path, start, size, identity)
    if kind == "csv":
        header = _held(path, identity, "header", lambda: _csv_header(path, identity))
        csv.field_size_limit(max(size, MAX_HEADER_BYTES))  # the listing bounded the row
        row = next(csv.reader(io.StringIO(archives.read_member(path, start, size, identity).decode("utf-8"))), [])
        return json.dumps(dict(zip(header, row)), ensure_ascii=False, sort_keys=True).encode()
    wanted = frozenset(name for name in dataclasses.astuple(fields) if name)
    parquet = _held(path, identity, ("parquet", wanted), lambda: _Parquet(path, identity, wanted))
    if not parquet.columns:
        return b"{}"  # the file has none of the fields: the record misses them all
    one = parquet.row(start, size)
    one = pa.RecordBatch.from_arrays([_as_text(column) for column in one.columns], names=one.schema.names)
    if one.nbytes > max_bytes:  # before Python holds it again, as objects and as JSON
        raise TooLarge(f"{one.nbytes} bytes in Arrow > max_file_bytes {max_bytes}")
    values = one.to_pylist()[0]
    return json.dumps(values, ensure_ascii=False, sort_keys=True, default=_json_value).encode()


def _json_value(value) -> str:
    """A Parquet value JSON has no type for: bytes as the UTF-8 they should be (else the record is undecodable),
    anything else (a decimal, say) as its text."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _held(path: str, identity, part, load):
    key = (path, archives.signature(path, identity), part)
    if key not in _open:
        for held in _open.values():
            if isinstance(held, _Parquet):
                held.close()
        _open.clear()
        _open[key] = load()
    return _open[key]


def _csv_header(path: str, identity) -> list[str]:
    with archives.open_stream(path, identity, spill=False) as stream:
        return next(_csv_reader(stream, MAX_HEADER_BYTES)[0])


def _as_text(column: pa.Array) -> pa.Array:
    """Dates and times as Arrow writes them (Python's cannot hold every one Arrow can)."""
    return pc.cast(column, pa.string()) if pa.types.is_temporal(column.type) else column


class _Parquet:
    """A Parquet file held open and read a few rows at a time, forward, as the records are read (a row group is
    never decoded whole: a writer's default group is a million rows), only its ``wanted`` columns."""

    def __init__(self, path: str, identity, wanted: frozenset[str]):
        self.file = open_planned(path, identity)
        self.parquet = pq.ParquetFile(self.file)
        self.columns = [name for name in self.parquet.schema_arrow.names if name in wanted]
        self.group, self.first, self.batch, self.batches = None, 0, None, iter(())

    def row(self, group: int, row: int) -> pa.RecordBatch:
        """Row ``row`` of row group ``group``."""
        if group != self.group or row < self.first:
            self.batches = self.parquet.iter_batches(
                batch_size=READ_BATCH_ROWS, row_groups=[group], columns=self.columns, use_threads=False
            )
            self.group, self.first, self.batch = group, 0, None
        while self.batch is None or row >= self.first + self.batch.num_rows:
            if self.batch is not None:
                self.first += self.batch.num_rows
            self.batch = next(self.batches)
        return self.batch.slice(row - self.first, 1)

    def close(self) -> None:
        self.file.close()
