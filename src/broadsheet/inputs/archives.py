"""Tar shards, read as streams: the members' headers when planning, one member's bytes when normalising.

A small header reader of our own (ustar, GNU long names, pax records), because
``tarfile``'s per-member cost dominates a corpus of a million members before any
work starts (docs/performance.md has the figures); anything unusual (sparse
members, base-256 checksums) comes back as a kind the caller rejects, and a
header that does not make sense (``members`` checks each) as DamagedArchive. Nothing
is unpacked: the one thing written to disk is a gzip stream's spill
(``_Inflating``), an unlinked temporary file.
"""

from __future__ import annotations

import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from broadsheet.core.params import NormalizeParams
from broadsheet.inputs.opening import Changed, open_planned

BLOCK = 512
EXTENDED_HEADER_BYTES = 1 << 20
"""The largest pax (x, g) or GNU long-name (L, K) header believed: real ones hold a path or two."""
ERRORS = (OSError, EOFError, zlib.error, ValueError)
"""What reading a damaged or truncated shard raises."""
UNBOUNDED = 1 << 62
"""``max_member_bytes`` for a listing that takes members of any size (MAX_INFLATION still bounds a gzip one)."""

REGULAR, DIRECTORY, SYMLINK, HARDLINK, SPECIAL = "file", "directory", "symlink", "hardlink", "special"
_TYPES = {b"0": REGULAR, b"\0": REGULAR, b"7": REGULAR, b"5": DIRECTORY, b"2": SYMLINK, b"1": HARDLINK}


class DamagedArchive(ValueError):
    pass


class Member(NamedTuple):
    """One member's header (a named tuple: a shard's listing goes back from a worker, and tuples pickle fast)."""

    name: str
    """As stored (decoded as UTF-8, undecodable bytes kept as surrogates, like ``tarfile``)."""
    kind: str
    size: int
    offset: int
    """Where the member's data starts in the uncompressed tar."""
    linkname: str = ""


def _open_shard(path: str, identity: tuple[int, int] | None, spill: bool):
    """The file at ``path`` (if it is still the one of ``identity``) as a file of its uncompressed bytes, and
    whether it is compressed (gzip or zstd, by its magic bytes, not its name)."""
    file = open_planned(path, identity)
    magic = file.read(4)
    file.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return _Inflating(file, spill), True
    if magic == b"\x28\xb5\x2f\xfd":
        return _Unzstd(file, spill), True
    return file, False


def open_stream(path: str, identity: tuple[int, int] | None = None, spill: bool = True):
    """The uncompressed bytes of the file at ``path`` as a seekable file (forward seeks are cheap; seeking back
    in a compressed one needs ``spill``)."""
    return _open_shard(path, identity, spill)[0]


class _Inflating:
    """A gzip stream: ``read``, ``seek`` and ``close`` as a file's, without GzipFile's per-call overhead.

    It inflates forwards only, never a byte twice, and only as far as the furthest byte read. With
    ``spill``, everything inflated is also appended to an anonymous temporary file, where reads of
    bytes behind the buffer are served: members read in any order cost one pass over the shard
    (source order need not be the order a shard stores its members in: ``tar -czf`` stores them in
    directory order), at the price of disk space (in TMPDIR) up to the shard's uncompressed size
    while the stream is open. Without it (a listing, which reads forwards) seeking back is an error.
    """

    CHUNK = 1 << 16
    """Compressed bytes inflated at a time: small, because OPEN_SHARDS streams stay open in each worker."""
    INFLATED = 1 << 20
    """The most bytes one inflation makes, however well the data compress."""

    def __init__(self, file: BinaryIO, spill: bool = False):
        self.file = file
        self.inflater = zlib.decompressobj(31)
        self.buffer = b""  # the bytes inflated last, from the position of the read that inflated them
        self.base = 0  # offset of buffer[0] in the uncompressed stream
        self.position = 0
        self.damage: Exception | None = None  # what inflating met, raised once the bytes before it are read
        self.spill = tempfile.TemporaryFile() if spill else None  # unlinked: it goes when closed, or with the process

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        if self.spill is not None:
            self.spill.close()

    def seek(self, offset: int) -> None:
        if offset < self.base and self.spill is None:
            raise ValueError(f"a forward-only gzip stream cannot seek back to byte {offset}")
        self.position = offset

    def read(self, size: int) -> bytes:
        start = self.position
        while self.base + len(self.buffer) < start + size:
            if self.damage is not None:
                if self.base + len(self.buffer) > start:
                    break  # the bytes before the damage first, as a file's read returns what it has
                raise self.damage
            try:
                chunk = self._inflate()
            except ERRORS as e:
                self.damage = e
                continue
            if chunk is None:
                break
            inflated = self.base + len(self.buffer) + len(chunk)
            if inflated > MAX_INFLATION * max(self.file.tell(), 1 << 20):
                raise DamagedArchive(
                    f"it inflates to more than {MAX_INFLATION} times its size by byte {inflated}: a compression bomb?"
                )
            if self.spill is not None:
                self.spill.seek(0, os.SEEK_END)
                self.spill.write(chunk)
            # Buffered bytes before the read's start are wanted no more (any seek back finds them in the spill).
            keep = min(max(start - self.base, 0), len(self.buffer))
            self.buffer = self.buffer[keep:] + chunk
            self.base += keep
        if start < self.base:  # behind the buffer: all of it was inflated already, into the spill
            self.spill.seek(start)
            data = self.spill.read(size)
        else:
            data = self.buffer[start - self.base : start - self.base + size]
        self.position += len(data)
        return data

    def _inflate(self) -> bytes | None:
        """The next bytes of the stream, at most INFLATED of them (deflate expands up to a thousandfold); None
        at its end."""
        while True:
            if self.inflater.eof:  # concatenated gzip members
                rest = self.inflater.unused_data or self.file.read(self.CHUNK)
                if not rest:
                    return None  # the inflater stays at its end: reading on finds the end again
                self.inflater = zlib.decompressobj(31)
                out = self.inflater.decompress(rest, self.INFLATED)
            else:
                compressed = self.inflater.unconsumed_tail or self.file.read(self.CHUNK)
                out = self.inflater.decompress(compressed, self.INFLATED)  # b"": what the inflater still holds
                if not out and not compressed and not self.inflater.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
            if out:
                return out


class _Unzstd(_Inflating):
    """A zstd stream, as ``_Inflating`` reads gzip (pyarrow decompresses: no zstd module is needed)."""

    def __init__(self, file: BinaryIO, spill: bool = False):
        import pyarrow as pa

        super().__init__(file, spill)
        self.decompressed = pa.CompressedInputStream(pa.PythonFile(file, mode="r"), "zstd")

    READ = 1 << 16
    """Bytes asked of pyarrow at a time: a read that meets damage raises and returns nothing, so what is lost
    before the damage is at most about this much."""

    def _inflate(self) -> bytes | None:
        return self.decompressed.read(self.READ) or None


def members(
    path: str, max_member_bytes: int = NormalizeParams.max_file_bytes, identity: tuple[int, int] | None = None
) -> Iterator[Member]:
    """Every member of the tar at ``path``, in order; DamagedArchive (or one of ERRORS) where it stops making sense.

    A shard is untrusted: every header is checked before it is believed, so that a hostile or
    careless one ends soon and in bounded memory. Sizes are octal digits (no sign) that the
    shard holds, extended headers are at most EXTENDED_HEADER_BYTES of well-formed records, and
    a gzip shard is not listed past a member of more than ``max_member_bytes``: only inflating
    it would skip it (a plain tar seeks past it, and the caller rejects it as too large).
    """
    stream, gzip = _open_shard(path, identity, spill=False)
    with stream as f:
        end = None if gzip else os.fstat(f.fileno()).st_size  # no member of a plain tar may run past it
        offset = 0
        pending: dict[str, str] = {}  # pax or GNU long-name values for the next member
        global_pax: dict[str, str] = {}
        while True:
            header = f.read(BLOCK)
            if not header or header == bytes(BLOCK):
                return  # the end-of-archive blocks (or, leniently, a shard that ends between members)
            if len(header) < BLOCK:
                raise DamagedArchive(f"a header cut short at byte {offset}")
            _check_sum(header, offset)
            size = _number(header[124:136], offset)
            kind = header[156:157]
            data_offset = offset + BLOCK
            if kind in (b"x", b"g", b"L", b"K"):
                if size > EXTENDED_HEADER_BYTES:
                    raise DamagedArchive(
                        f"an extended header of {size} bytes at byte {offset} (at most {EXTENDED_HEADER_BYTES})"
                    )
                data = f.read(size)
                if len(data) < size:
                    raise DamagedArchive(f"an extended header cut short at byte {data_offset}")
                offset = data_offset + -(-size // BLOCK) * BLOCK
                f.seek(offset)
                if kind == b"x":
                    pending.update(_pax(data, data_offset))
                elif kind == b"g":
                    global_pax.update(_pax(data, data_offset))
                else:
                    pending["path" if kind == b"L" else "linkpath"] = _text(data.split(b"\0", 1)[0])
                continue
            values = {**global_pax, **pending}
            pending = {}
            name = values.get("path") or _name(header)
            if len(name) > MAX_NAME_CHARS:
                raise DamagedArchive(
                    f"a member name of {len(name)} characters at byte {offset} (at most {MAX_NAME_CHARS})"
                )
            if values.get("size"):
                size = _decimal(values["size"], offset)
            if gzip and size > max_member_bytes:
                raise DamagedArchive(
                    f"{name!r} at byte {offset} declares {size} bytes, more than max_file_bytes {max_member_bytes}:"
                    " a gzip shard cannot be listed past it without inflating it"
                )
            if size and not _reaches(f, data_offset + size, end):
                raise DamagedArchive(f"{name!r} at byte {offset} declares {size} bytes, past the end of the archive")
            offset = data_offset + -(-size // BLOCK) * BLOCK
            sparse = any(k.startswith("GNU.sparse.") for k in values)
            linkname = values.get("linkpath") or _text(header[157:257].split(b"\0", 1)[0])
            kind = SPECIAL if sparse else _TYPES.get(kind, SPECIAL)
            yield Member(name.rstrip("/") if kind == DIRECTORY else name, kind, size, data_offset, linkname)
            f.seek(offset)


MAX_NAME_CHARS = 1 << 16
"""The longest member name read: a listing holds every name."""
MAX_LISTING_CHARS = 64 << 20
"""The most characters of names a listing holds, however many members share them."""
MAX_INFLATION = 100
"""How many times its own size a compressed file may inflate to (text inflates about 5 times): past that, it is
damage, so that neither reading it nor the spill of its stream (``_Inflating``) outgrows the file a hundredfold."""


def _reaches(f, stop: int, end: int | None) -> bool:
    """Whether the tar ``f`` holds byte ``stop - 1``: a plain tar of ``end`` bytes, or a gzip stream (``end``
    None), inflated that far (its buffer holds no more than a chunk meanwhile)."""
    if end is not None:
        return stop <= end
    f.seek(stop - 1)
    return len(f.read(1)) == 1


def listing(
    path: str, max_member_bytes: int = NormalizeParams.max_file_bytes, identity: tuple[int, int] | None = None
) -> tuple[list[Member], Exception | None]:
    """The members of the tar at ``path`` that are not folders, and the error that stopped the listing (None if none).

    A whole listing at once, for a worker: a damaged shard keeps the members listed before the damage.
    """
    listed: list[Member] = []
    held = 0
    try:
        for member in members(path, max_member_bytes, identity):
            held += len(member.name) + len(member.linkname)
            if held > MAX_LISTING_CHARS:
                raise DamagedArchive(f"its member names add up to more than {MAX_LISTING_CHARS} characters")
            if member.kind != DIRECTORY:
                listed.append(member)
    except (*ERRORS, Changed) as e:
        return listed, e
    return listed, None


_OCTAL = re.compile(rb"[0-7]*")


def _number(field: bytes, offset: int) -> int:
    """A header's size field: octal digits, or GNU base-256 (a leading 0x80) for sizes past 8 GiB."""
    if field[0] == 0x80:
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    # Not int(digits, 8) alone: it takes a sign, "0o" and "_". A leading 0xff (negative base-256) is no digit either.
    if not _OCTAL.fullmatch(digits):
        raise DamagedArchive(f"an invalid size field {field!r} in the header at byte {offset}")
    return int(digits, 8) if digits else 0


def _decimal(text: str, offset: int) -> int:
    """A pax size: decimal digits (not int() alone, which takes a sign, "_", spaces and other scripts' digits)."""
    if not re.fullmatch(r"[0-9]{1,20}", text):
        raise DamagedArchive(f"an invalid pax size {text[:40]!r} for the member at byte {offset}")
    return int(text)


def _check_sum(header: bytes, offset: int) -> None:
    stored = header[148:156].split(b"\0", 1)[0].strip()
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    if not stored or int(stored, 8) != unsigned:
        raise DamagedArchive(f"not a tar header at byte {offset}")


def _name(header: bytes) -> str:
    name = header[:100].split(b"\0", 1)[0]
    if header[257:265] == b"ustar\x0000":  # POSIX ustar: a prefix holds the start of long paths
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return _text(name)


_LENGTH = re.compile(rb"([0-9]{1,7}) ")
"""A pax record's length, and the space after it: 7 digits are enough for an extended header's 1 MiB."""


def _pax(data: bytes, at: int) -> dict[str, str]:
    """The values this reader uses of the records ``"<length> <key>=<value>\\n"`` of a pax extended header
    whose data starts at byte ``at``.

    Only those, so that what a shard's extended headers leave pending stays small; DamagedArchive
    for a record that is not one (a length of 0 or past the data, no "=", no newline at its end).
    """
    values, pos = {}, 0
    while pos < len(data) and data[pos] != 0:
        record = _record(data, pos)
        if record is None:
            raise DamagedArchive(f"a malformed pax record at byte {at + pos}")
        key, value, pos = record
        if key in ("path", "linkpath", "size"):
            values[key] = _text(value)
        elif key.startswith("GNU.sparse."):
            values["GNU.sparse."] = ""  # only whether there is one matters
    return values


def _record(data: bytes, pos: int) -> tuple[str, bytes, int] | None:
    """The key, value and end of the pax record at ``pos`` of ``data``; None if there is none."""
    length = _LENGTH.match(data, pos)
    if length is None:
        return None
    stop = pos + int(length[1])
    if not length.end() < stop <= len(data) or data[stop - 1] != ord("\n"):
        return None
    key, equals, value = data[length.end() : stop - 1].partition(b"=")
    return (_text(key), value, stop) if equals and key else None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


OPEN_SHARDS = 16
_open: dict = {}  # path -> (signature, stream): the shards last read from, kept open in this process (oldest first)


def signature(path: str, identity: tuple[int, int] | None) -> tuple:
    """What tells a file held open from the one at ``path`` now (rewritten in place, it keeps its inode)."""
    st = os.stat(path)
    return identity, st.st_ino, st.st_size, st.st_mtime_ns


def read_member(path: str, offset: int, size: int, identity: tuple[int, int] | None = None) -> bytes:
    """``size`` bytes at ``offset`` of the uncompressed tar at ``path``.

    Members are read in source order, which may alternate between shards
    (ordinals interleaved across them) and go back and forth within one (a shard
    need not store its members in name order): the last ``OPEN_SHARDS`` shards
    stay open, and a gzip stream keeps what it inflated (``_Inflating``'s spill),
    so each shard is inflated once, not once per member.
    """
    now = signature(path, identity)
    held, stream = _open.pop(path, (None, None))
    if held != now:
        if stream is not None:
            stream.close()
        while len(_open) >= OPEN_SHARDS:
            _open.pop(next(iter(_open)))[1].close()
        stream = open_stream(path, identity)
    _open[path] = now, stream  # now the most recent
    stream.seek(offset)
    return stream.read(size)
