"""Tar shards as sources: members are accounted for like files, streamed, and unsafe ones rejected."""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import random
import resource
import subprocess
import sys
import tarfile

import pyarrow.parquet as pq
import pytest

from broadsheet import normalize
from broadsheet.core.params import NormalizeParams
from helpers import article, key, make_corpus, normalized_records, settings, tree_bytes, write


def pack(path, members: dict[str, bytes], mode: str = "w") -> None:
    """A tar shard holding ``members`` (name -> bytes) in the given order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def special(path, infos: list[tarfile.TarInfo]) -> None:
    with tarfile.open(path, "a") as tar:
        for info in infos:
            tar.addfile(info)


def records(out) -> list[dict]:
    return normalized_records(out)


def rejects(out) -> dict[str, str]:
    return {r["path"]: r["reason"] for r in pq.read_table(out / "rejects.parquet").to_pylist()}


def test_members_of_plain_and_gzip_shards_become_the_records_the_loose_files_do(tmp_path):
    loose = make_corpus(tmp_path / "loose", 40)
    # Even ordinals in one shard, odd in the other: source order alternates between them,
    # so the reader switches shards (and seeks back in the gzip stream) at every member.
    pack(tmp_path / "packed" / "even.tar", {p.name: p.read_bytes() for p in loose[0::2]})
    pack(tmp_path / "packed" / "odd.tar.gz", {f"sub/{p.name}": p.read_bytes() for p in loose[1::2]}, "w:gz")
    want = normalize.run(
        [tmp_path / "loose"], tmp_path / "o1", settings(NormalizeParams(shard_rows=4), workers=2), progress=False
    )
    got = normalize.run(
        [tmp_path / "packed"], tmp_path / "o2", settings(NormalizeParams(shard_rows=4), workers=2), progress=False
    )
    assert got == want
    loose_records, packed_records = records(tmp_path / "o1"), records(tmp_path / "o2")
    for record in packed_records:
        record["source"]["path"] = record["source"]["path"].removeprefix("even.tar/").removeprefix("odd.tar.gz/sub/")
    assert packed_records == loose_records
    assert [r["id"] for r in packed_records] == [key(n) for n in range(40)]


def test_unsafe_links_special_and_skipped_members_are_rejected_with_reasons(tmp_path):
    src = tmp_path / "src"
    shard = src / "shard.tar"
    pack(
        shard,
        {
            f"001_{key(1)}.txt": article(1).encode(),
            "../escape.txt": article(2).encode(),
            "/etc/absolute.txt": article(3).encode(),
            "a/../../up.txt": article(4).encode(),
            "README.md": b"not a document",
            "big.txt": b"Big\n" + b"x" * 6000,
            f"again/001_{key(1)}.txt": article(5).encode(),
        },
    )
    symlink = tarfile.TarInfo("link.txt")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hardlink = tarfile.TarInfo("hard.txt")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, f"001_{key(1)}.txt"
    device = tarfile.TarInfo("dev.txt")
    device.type = tarfile.CHRTYPE
    folder = tarfile.TarInfo("a-folder")
    folder.type = tarfile.DIRTYPE
    special(shard, [symlink, hardlink, device, folder])
    metrics = normalize.run(
        [src], tmp_path / "out", settings(NormalizeParams(max_file_bytes=5000), workers=1), progress=False
    )
    assert rejects(tmp_path / "out") == {
        "shard.tar/../escape.txt": "unsafe_member_path",
        "shard.tar//etc/absolute.txt": "unsafe_member_path",
        "shard.tar/a/../../up.txt": "unsafe_member_path",
        "shard.tar/README.md": "not_a_document",
        "shard.tar/big.txt": "too_large",
        f"shard.tar/again/001_{key(1)}.txt": "duplicate_id",
        "shard.tar/link.txt": "link_in_archive",
        "shard.tar/hard.txt": "link_in_archive",
        "shard.tar/dev.txt": "not_a_regular_file",
    }
    assert [r["source"]["path"] for r in records(tmp_path / "out")] == [f"shard.tar/001_{key(1)}.txt"]
    assert metrics["input_files"] == 10  # every member but the folder entry
    assert (
        metrics["input_files"] == metrics["documents"] + metrics["rejected"] + metrics["skipped"] + metrics["filtered"]
    )
    normalize.run([src], tmp_path / "out-2", settings(NormalizeParams(max_file_bytes=5000), workers=2), progress=False)
    assert tree_bytes(tmp_path / "out-2") == tree_bytes(tmp_path / "out")


def test_a_damaged_shard_keeps_what_came_before_the_damage_and_says_so(tmp_path):
    whole = tmp_path / "whole.tar.gz"
    pack(
        whole,
        {f"{n:03d}_{key(n)}.txt": article(n).encode() + os.urandom(3000).hex().encode() for n in range(30)},
        "w:gz",
    )
    src = tmp_path / "src"
    write(src, "cut.tar.gz", whole.read_bytes()[: len(whole.read_bytes()) // 2])
    write(src, "not-a-tar.tar", b"Hello, I am a text file with a misleading name.\n" * 20)
    metrics = normalize.run([src], tmp_path / "out", settings(workers=1), progress=False)
    found = rejects(tmp_path / "out")
    assert found["not-a-tar.tar"] == "damaged_archive"
    assert found["cut.tar.gz"] == "damaged_archive"
    assert 0 < metrics["documents"] < 30
    assert (
        metrics["input_files"] == metrics["documents"] + metrics["rejected"] + metrics["skipped"] + metrics["filtered"]
    )
    detail = {r["path"]: r["detail"] for r in pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()}
    assert "members" in detail["cut.tar.gz"]
    normalize.run(
        [src], tmp_path / "out-2", settings(workers=2), progress=False
    )  # listed by worker processes: the same
    assert tree_bytes(tmp_path / "out-2") == tree_bytes(tmp_path / "out")


def test_a_shard_linked_from_outside_the_tree_is_not_read(tmp_path):
    pack(tmp_path / "elsewhere.tar", {f"001_{key(1)}.txt": article(1).encode()})
    (tmp_path / "src").mkdir()
    os.symlink(tmp_path / "elsewhere.tar", tmp_path / "src" / "linked.tar")
    normalize.run([tmp_path / "src"], tmp_path / "out", settings(workers=1), progress=False)
    assert rejects(tmp_path / "out") == {"linked.tar": "symlink_outside_tree"}


def test_archive_patterns_are_a_param(tmp_path):
    pack(tmp_path / "src" / "shard.tar", {f"001_{key(1)}.txt": article(1).encode()})
    metrics = normalize.run(
        [tmp_path / "src"], tmp_path / "out", settings(NormalizeParams(archives=()), workers=1), progress=False
    )
    assert (metrics["documents"], metrics["skipped"]) == (
        0,
        1,
    )  # without the pattern, a .tar is just a file that is not *.txt


def test_the_header_reader_agrees_with_tarfile_on_every_format(tmp_path, monkeypatch):
    from broadsheet.inputs import archives

    rewinds = []  # seeks of a gzip stream to before what it buffers: read from its spill, not inflated again
    real_seek = archives._Inflating.seek
    monkeypatch.setattr(
        archives._Inflating, "seek", lambda self, offset: rewinds.append(offset < self.base) or real_seek(self, offset)
    )

    names = [
        "a.txt",
        "dir/b.txt",
        "x" * 99 + ".txt",
        "long/" * 30 + "c.txt",
        "ünïcödé/Ελληνικά – 文章.txt",
        "d/" + "y" * 150 + ".txt",
    ]
    kinds = {
        tarfile.REGTYPE: archives.REGULAR,
        tarfile.DIRTYPE: archives.DIRECTORY,
        tarfile.SYMTYPE: archives.SYMLINK,
        tarfile.LNKTYPE: archives.HARDLINK,
        tarfile.FIFOTYPE: archives.SPECIAL,
    }
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        for mode in ("w", "w:gz"):
            path = tmp_path / f"{fmt}{mode.replace(':', '')}.tar"
            with tarfile.open(
                path, mode, format=fmt, pax_headers={"comment": "global"} if fmt == tarfile.PAX_FORMAT else None
            ) as tar:
                for i, name in enumerate(names):
                    if fmt == tarfile.USTAR_FORMAT and (
                        len(name.encode()) > 100 and "/" not in name[-101:] or len(name.encode()) > 255
                    ):
                        continue  # ustar cannot hold it
                    data = os.urandom(i * 30_000)  # incompressible: later members lie past the first inflated chunks
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                for kind, name in (
                    (tarfile.DIRTYPE, "folder"),
                    (tarfile.SYMTYPE, "link"),
                    (tarfile.LNKTYPE, "hard"),
                    (tarfile.FIFOTYPE, "fifo"),
                ):
                    info = tarfile.TarInfo(name)
                    info.type, info.linkname = kind, "a.txt" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                    tar.addfile(info)
            with tarfile.open(path) as tar:
                want = [(m.name, kinds[m.type], m.size, m.offset_data, m.linkname) for m in tar.getmembers()]
            got = [(m.name, m.kind, m.size, m.offset, m.linkname) for m in archives.members(str(path))]
            assert got == want, (fmt, mode)
            regular = [m for m in want if m[1] == archives.REGULAR]
            rewinds.clear()
            for m in [*regular, *reversed(regular)]:  # forwards, then backwards through the same open stream
                assert archives.read_member(str(path), m[3], m[2]) == tarfile.open(path).extractfile(m[0]).read()
            assert any(rewinds) == (mode == "w:gz"), "reading backwards goes back before the buffered data"


def test_members_interleaved_across_many_gzip_shards_are_read_once_each(tmp_path, monkeypatch):
    from broadsheet.inputs import archives

    opened = []
    real_open = archives.open_stream
    monkeypatch.setattr(archives, "open_stream", lambda path, *rest: opened.append(path) or real_open(path, *rest))
    archives._open.clear()
    loose = make_corpus(tmp_path / "loose", 60)
    for shard in range(3):  # ordinals 0, 3, 6, ... in the first shard: source order visits the shards in turn
        pack(tmp_path / "packed" / f"s{shard}.tar.gz", {p.name: p.read_bytes() for p in loose[shard::3]}, "w:gz")
    metrics = normalize.run([tmp_path / "packed"], tmp_path / "out", settings(workers=1), progress=False)
    assert metrics["documents"] == 60
    assert len(opened) == 3, "each shard opened once, not once per switch"


def test_a_gzip_shard_not_stored_in_name_order_is_inflated_once(tmp_path, monkeypatch):
    """``tar -czf`` stores members in directory order: source order then jumps back and forth through the shard."""
    from broadsheet.inputs import archives

    inflated = []  # (stream, bytes inflated): the streams kept alive, so that no two share an id
    real_inflate = archives._Inflating._inflate

    def counted(self):
        out = real_inflate(self)
        inflated.append((self, len(out or b"")))
        return out

    monkeypatch.setattr(archives._Inflating, "_inflate", counted)
    count = 2000
    names = [f"{n:06d}_{key(n)}.txt" for n in range(count)]
    random.Random(0).shuffle(names)
    shard = tmp_path / "src" / "shard.tar.gz"
    pack(shard, {name: article(int(name[:6])).encode() for name in names}, "w:gz")
    metrics = normalize.run([tmp_path / "src"], tmp_path / "out", settings(workers=1), progress=False)
    assert metrics["documents"] == count
    assert [r["id"] for r in records(tmp_path / "out")] == [key(n) for n in range(count)]
    per_stream: dict[int, int] = {}
    for stream, size in inflated:
        per_stream[id(stream)] = per_stream.get(id(stream), 0) + size
    assert len(per_stream) == 2, "one stream lists the shard, one reads its members"
    assert max(per_stream.values()) <= len(gzip.decompress(shard.read_bytes())), "no byte inflated twice"


# Hostile shards, written byte by byte: a header is 512 bytes, field by field, with its checksum computed here.

BLOCK = 512
END = bytes(2 * BLOCK)  # the end-of-archive blocks


def ustar(name: str, size: int | bytes, kind: bytes = b"0") -> bytes:
    """A ustar header: ``size`` a number, or its 12-byte field as it stands."""
    field = b"%011o\0" % size if isinstance(size, int) else size
    assert len(field) == 12
    block = bytearray(BLOCK)
    block[0:100] = name.encode().ljust(100, b"\0")
    block[100:124] = b"0000644\0" + b"0001750\0" * 2  # mode, uid, gid
    block[124:136] = field
    block[136:148] = b"14576325600\0"  # mtime
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8  # the checksum sums the header with its own field as spaces
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % BLOCK)


def entry(name: str, data: bytes) -> bytes:
    """A regular member: header and data."""
    return ustar(name, len(data)) + padded(data)


def pax(records: bytes, size: int | bytes | None = None) -> bytes:
    """A pax extended header holding ``records`` (its size field ``size`` if given, else theirs)."""
    return ustar("././@PaxHeader", len(records) if size is None else size, b"x") + padded(records)


def record(key: str, value: str) -> bytes:
    """A pax record, ``"<length> <key>=<value>\n"``, its length counting its own digits."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def base256(n: int) -> bytes:
    return b"\x80" + n.to_bytes(11, "big")


def good(n: int) -> bytes:
    """The member that comes before the damage, which the listing keeps."""
    return entry(f"{n:03d}_{key(n)}.txt", article(n).encode())


@functools.cache
def zeros_gzip(gib: int) -> bytes:
    """``gib`` GiB of zero bytes as a gzip stream of a few MB (gzip members of 64 MiB each, concatenated)."""
    return gzip.compress(bytes(64 << 20), 9) * (16 * gib)


HOSTILE = {  # name -> (the shard's bytes, made when a test needs them; what the damage says)
    "negative_ustar_size.tar": (lambda: good(1) + ustar("bad.txt", b"-0001000\0\0\0\0") + END, "invalid size field"),
    "negative_base256_size.tar": (lambda: good(2) + ustar("x", b"\xff" * 12) + bytes(4096) + END, "invalid size field"),
    "pax_record_of_length_0.tar": (lambda: good(3) + pax(b"0 size=1\n") + entry("x", b"x") + END, "pax record"),
    "pax_size_negative.tar": (lambda: good(4) + pax(record("size", "-1536")) + entry("x", b"x") + END, "pax size"),
    "pax_size_not_decimal.tar": (lambda: good(5) + pax(record("size", "1_000")) + entry("x", b"x") + END, "pax size"),
    "pax_record_past_its_data.tar": (lambda: good(6) + pax(b"99 path=bad\n") + entry("x", b"x") + END, "pax record"),
    "pax_record_without_equals.tar": (lambda: good(7) + pax(b"12 path bad\n") + entry("x", b"x") + END, "pax record"),
    "pax_length_not_digits.tar": (lambda: good(8) + pax(b"1x path=bad\n") + entry("x", b"x") + END, "pax record"),
    "pax_header_of_2_40_bytes.tar": (
        lambda: good(9) + pax(record("path", "x"), base256(1 << 40)) + END,
        "extended header",
    ),
    "gnu_long_name_of_2_40_bytes.tar": (
        lambda: good(10) + ustar("././@LongLink", base256(1 << 40), b"L") + padded(b"bad.txt\0") + END,
        "extended header",
    ),
    "pax_header_claiming_3_gib.tar.gz": (
        lambda: gzip.compress(good(11) + ustar("././@PaxHeader", 3 << 30, b"x")) + zeros_gzip(3),
        "extended header",
    ),
    "member_claiming_3_gib.tar.gz": (
        lambda: gzip.compress(good(12) + ustar("bomb.txt", 3 << 30)) + zeros_gzip(3),
        "more than max_file_bytes",
    ),
    "member_past_the_end.tar": (
        lambda: good(13) + ustar("cut.txt", 100_000) + bytes(5000),
        "past the end of the archive",
    ),
    "member_past_the_end.tar.gz": (
        lambda: gzip.compress(good(14) + ustar("cut.txt", 100_000) + bytes(5000)),
        "past the end of the archive",
    ),
}


_LIST = """
import json, sys
from broadsheet.inputs import archives
inflated = 0
real = archives._Inflating._inflate
def counted(self):
    global inflated
    out = real(self)
    inflated += len(out or b"")
    return out
archives._Inflating._inflate = counted
listed, error = archives.listing(sys.argv[1], int(sys.argv[2]))
print(json.dumps([len(listed), f"{type(error).__name__}: {error}", inflated]))
"""


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))  # 1.5 GiB of address space


def listed_within_limits(path, max_member_bytes: int = NormalizeParams.max_file_bytes) -> tuple[int, str, int]:
    """(members listed, the error that stopped the listing, bytes inflated) of ``archives.listing(path)``, run
    in a process of its own with 1.5 GiB of memory and 60 s: a regression fails, instead of hanging the tests."""
    result = subprocess.run(
        [sys.executable, "-c", _LIST, str(path), str(max_member_bytes)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limits,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return tuple(json.loads(result.stdout))


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hand_made_header_is_a_damaged_archive_soon_and_in_bounded_memory(tmp_path, name):
    make, says = HOSTILE[name]
    path = write(tmp_path, name, make())
    listed, error, inflated = listed_within_limits(path)
    assert (listed, error.split(":")[0]) == (1, "DamagedArchive"), error
    assert says in error
    assert inflated <= 2 * BLOCK + len(good(1)) + (100_000 if "past_the_end" in name else 0)  # nothing skipped


def test_hostile_shards_keep_the_members_before_the_damage_and_the_accounting_holds(tmp_path):
    with tarfile.open(fileobj=io.BytesIO(good(1) + END)) as tar:  # the headers written here are tar's
        assert [(m.name, m.size) for m in tar] == [(f"001_{key(1)}.txt", len(article(1).encode()))]
    src = tmp_path / "src"
    for name, (make, _) in HOSTILE.items():
        write(src, name, make())
    for name in HOSTILE:  # first in processes of their own, with limits: a regression fails, it does not hang
        assert listed_within_limits(src / name)[0] == 1
    metrics = normalize.run([src], tmp_path / "out", settings(workers=1), progress=False)
    assert rejects(tmp_path / "out") == dict.fromkeys(HOSTILE, "damaged_archive")
    assert metrics["documents"] == len(HOSTILE)
    assert metrics["input_files"] == 2 * len(HOSTILE)


def test_a_gzip_member_over_max_file_bytes_ends_the_listing_and_says_why(tmp_path):
    """A plain tar seeks past it, and it is too_large; a gzip shard could only inflate it to reach what follows."""

    def members(first: int) -> dict[str, bytes]:
        return {
            f"{first:03d}_{key(first)}.txt": article(first).encode(),
            "big.txt": b"x" * 6000,
            f"{first + 1:03d}_{key(first + 1)}.txt": article(first + 1).encode(),
        }

    pack(tmp_path / "src" / "plain.tar", members(1))
    pack(tmp_path / "src" / "packed.tar.gz", {f"sub/{name}": data for name, data in members(3).items()}, "w:gz")
    metrics = normalize.run(
        [tmp_path / "src"], tmp_path / "out", settings(NormalizeParams(max_file_bytes=5000), workers=1), progress=False
    )
    assert rejects(tmp_path / "out") == {"plain.tar/big.txt": "too_large", "packed.tar.gz": "damaged_archive"}
    assert [r["id"] for r in records(tmp_path / "out")] == [key(1), key(2), key(3)]
    detail = {r["path"]: r["detail"] for r in pq.read_table(tmp_path / "out" / "rejects.parquet").to_pylist()}
    assert "'sub/big.txt' at byte 1024 declares 6000 bytes, more than max_file_bytes 5000" in detail["packed.tar.gz"]
    assert "(after 1 members)" in detail["packed.tar.gz"]
    assert metrics["input_files"] == metrics["documents"] + metrics["rejected"] == 5


def test_a_member_that_compresses_a_thousandfold_is_inflated_a_megabyte_at_a_time(tmp_path, monkeypatch):
    from broadsheet.inputs import archives

    chunks = []
    real_inflate = archives._Inflating._inflate
    monkeypatch.setattr(archives._Inflating, "_inflate", lambda self: chunks.append(out := real_inflate(self)) or out)
    path = write(tmp_path, "bomb.tar.gz", gzip.compress(good(1) + entry("zeros.txt", bytes(12 << 20)) + END))
    assert os.path.getsize(path) < 100_000
    listed = archives.members(str(path))
    zeros = [m for m in listed if m.name == "zeros.txt"][0]
    assert archives.read_member(str(path), zeros.offset, zeros.size) == bytes(12 << 20)
    assert max(len(c) for c in chunks if c) <= 1 << 20


def test_an_archive_with_nothing_in_it_is_an_empty_archive_and_counted(tmp_path):
    src = tmp_path / "src"
    make_corpus(src, 2)
    pack(src / "full.tar", {f"{n:06d}_{key(n)}.txt": article(n).encode() for n in (2, 3)})
    write(src, "zero-bytes.tar", b"")
    write(src, "zero-bytes.tgz", b"")
    write(src, "end-blocks.tar", bytes(20 * BLOCK))
    write(src, "empty-gzip.tar.gz", gzip.compress(b""))
    write(src, "end-blocks.tar.gz", gzip.compress(END))
    write(src, "folders.tar", ustar("a", 0, b"5") + ustar("a/b/", 0, b"5") + END)
    empty = [
        "zero-bytes.tar",
        "zero-bytes.tgz",
        "end-blocks.tar",
        "empty-gzip.tar.gz",
        "end-blocks.tar.gz",
        "folders.tar",
    ]
    metrics = normalize.run([src], tmp_path / "out", settings(workers=1), progress=False)
    assert rejects(tmp_path / "out") == dict.fromkeys(empty, "empty_archive")
    assert (metrics["input_files"], metrics["documents"], metrics["rejected"]) == (4 + len(empty), 4, len(empty))
    assert metrics["rejected_by_reason"] == {"empty_archive": len(empty)}
    normalize.run([src], tmp_path / "out-2", settings(workers=2), progress=False)  # listed by worker processes
    assert tree_bytes(tmp_path / "out-2") == tree_bytes(tmp_path / "out")
