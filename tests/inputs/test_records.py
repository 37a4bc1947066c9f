"""Files of many records (normalize.format jsonl, csv, parquet): each record an input, accounted for alone."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet import normalize
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.params import FieldsParams, NormalizeParams, parse
from broadsheet.inputs import records
from broadsheet.publish.manifest import content_sha256
from helpers import normalized_records, settings, tree_bytes, write

BODY = "Body paragraph {n} holds words enough for the filters.\n\nA second paragraph, also of words."


def record(n: int, **extra) -> dict:
    return {"url": f"https://news.example/{n}", "title": f"Headline {n}", "text": BODY.format(n=n), **extra}


def jsonl(rows) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def params(fmt="jsonl", include=("*.jsonl", "*.jsonl.gz", "*.jsonl.zst"), normalize=None, **fields) -> NormalizeParams:
    return NormalizeParams(format=fmt, include=tuple(include), fields=FieldsParams(**fields), **(normalize or {}))


def run(tmp_path, section: NormalizeParams, name: str = "out", workers: int = 1):
    out = tmp_path / name
    metrics = normalize.run([tmp_path / "raw"], out, settings(section, workers=workers), progress=False)
    docs = normalized_records(out)
    rejects = {r["path"]: (r["reason"], r["detail"]) for r in pq.read_table(out / "rejects.parquet").to_pylist()}
    return metrics, docs, rejects


def test_every_line_of_a_jsonl_file_is_a_record_or_a_reject_with_its_line(tmp_path):
    rows = [record(1), b"{not json", record(2, text=None), b"", record(3, title=7), b"[1, 2]", record(1)]
    rows += [b'{"title": "x", "text": "\xe9t\xe9"}', b"[" * 100_000 + b"]" * 100_000]
    write(tmp_path, "raw/feed.jsonl", jsonl(rows))
    metrics, docs, rejects = run(tmp_path, params(id="url"))
    assert [d["source"]["path"] for d in docs] == ["feed.jsonl:000000001"]
    assert {path: reason for path, (reason, _) in rejects.items()} == {
        "feed.jsonl:000000002": "bad_record",
        "feed.jsonl:000000003": "missing_field",
        "feed.jsonl:000000005": "missing_field",
        "feed.jsonl:000000006": "bad_record",
        "feed.jsonl:000000007": "duplicate_id",
        "feed.jsonl:000000008": "undecodable",
        "feed.jsonl:000000009": "bad_record",
    }
    assert "line 2 is not JSON" in rejects["feed.jsonl:000000002"][1]
    assert "feed.jsonl:000000001" in rejects["feed.jsonl:000000007"][1]  # names the record that keeps the id
    assert metrics["input_files"] == 8  # the blank line is no record
    assert docs[0]["url"] == "https://news.example/1" and docs[0]["date"] is None


def test_ids_follow_the_id_field_across_versions_and_else_the_file_and_line(tmp_path):
    write(tmp_path, "raw/feed.jsonl", jsonl([record(1), record(2)]))
    _, by_field, _ = run(tmp_path, params(id="url"), "a")
    _, by_line, _ = run(tmp_path, params(), "b")
    write(tmp_path, "raw/feed.jsonl", jsonl([record(0), record(1), record(2)]))  # one record more, before them
    _, by_field_after, _ = run(tmp_path, params(id="url"), "c")
    _, by_line_after, _ = run(tmp_path, params(), "d")
    ids = {d["title"]: d["id"] for d in by_field}
    assert {d["title"]: d["id"] for d in by_field_after if d["title"] in ids} == ids
    assert ids["Headline 1"] == records.key_of("https://news.example/1")
    assert by_line[0]["id"] != by_line_after[1]["id"]  # a line's id is where it is: it moved


def test_gzip_and_zstd_files_stream_and_a_truncated_one_keeps_the_records_before(tmp_path):
    payload = jsonl(record(n) for n in range(300))
    write(tmp_path, "raw/a.jsonl.gz", gzip.compress(payload))
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as f:
        f.write(jsonl(record(n) for n in range(300, 310)))
    write(tmp_path, "raw/b.jsonl.zst", sink.getvalue().to_pybytes())
    whole = gzip.compress(jsonl(record(n) for n in range(400, 4000)))
    write(tmp_path, "raw/c.jsonl.gz", whole[: len(whole) // 2])
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as f:
        f.write(jsonl(record(n) for n in range(5000, 9000)))
    write(tmp_path, "raw/d.jsonl.zst", sink.getvalue().to_pybytes()[:-10])  # its last frame cut short
    metrics, docs, rejects = run(tmp_path, params())
    paths = [d["source"]["path"] for d in docs]
    assert sum(p.startswith("a.jsonl.gz:") for p in paths) == 300
    assert sum(p.startswith("b.jsonl.zst:") for p in paths) == 10
    for name, total in (("c.jsonl.gz", 3600), ("d.jsonl.zst", 4000)):
        kept = sum(p.startswith(f"{name}:") for p in paths)
        assert 0 < kept < total and (name == "c.jsonl.gz" or kept > total * 0.9)
        reason, detail = rejects[name]
        assert reason == "damaged_file" and f"after {kept} records" in detail
    assert metrics["input_files"] == len(docs) + len(rejects)


def test_a_compressed_bomb_or_an_endless_line_is_damage_in_bounded_time(tmp_path):
    member = gzip.compress(b"\n" * (1 << 20), 9)
    write(tmp_path, "raw/newlines.jsonl.gz", member * 400)  # gzip members one after another: 400 MiB of blank lines
    write(tmp_path, "raw/line.jsonl.gz", gzip.compress(b'{"text": "' + b"a" * (40 << 20), 9))
    started = time.monotonic()
    _, docs, rejects = run(tmp_path, params(normalize={"max_file_bytes": 1 << 20}))
    assert not docs
    assert rejects["newlines.jsonl.gz"][0] == "damaged_file" and "compression bomb" in rejects["newlines.jsonl.gz"][1]
    assert rejects["line.jsonl.gz:000000001"][0] == "too_large"  # read past, never held whole
    assert time.monotonic() - started < 120  # bounded, not timed: a loop over every byte would take far longer


def test_csv_rows_span_quoted_newlines_and_a_bad_row_is_rejected_alone(tmp_path):
    text = io.StringIO()
    writer = csv.DictWriter(text, ["url", "title", "text"])
    writer.writeheader()
    writer.writerow({k: v for k, v in record(1).items()})
    writer.writerow({k: v for k, v in record(2).items()})
    raw = ("\ufeff" + text.getvalue() + "only,two\n").encode() + b'u3,"caf\xe9",x\n'
    last = b"u4,Headline 4," + BODY.format(n=4).replace("\n\n", " ").replace(",", "").encode()  # no newline at the end
    write(tmp_path, "raw/table.csv", raw + last)
    _, docs, rejects = run(tmp_path, params("csv", ["*.csv"], id="url"))
    assert [d["source"]["path"] for d in docs] == ["table.csv:000000002", "table.csv:000000005", "table.csv:000000010"]
    assert docs[0]["text"] == BODY.format(n=1) and docs[0]["title"] == "Headline 1"
    assert (
        rejects["table.csv:000000008"][0] == "bad_record"
        and "2 fields, the header 3" in rejects["table.csv:000000008"][1]
    )
    assert rejects["table.csv:000000009"][0] == "undecodable"


def test_parquet_rows_are_read_a_row_group_at_a_time(tmp_path):
    rows = [record(n, date=f"2024-05-{n + 1:02d}") for n in range(10)]
    rows[4]["url"] = None
    (tmp_path / "raw").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "raw" / "part.parquet", row_group_size=3)
    write(tmp_path, "raw/broken.parquet", b"PAR1" + b"\0" * 100 + b"PAR1")
    _, docs, rejects = run(tmp_path, params("parquet", ["*.parquet"], id="url", date="date"))
    assert len(docs) == 9 and docs[0]["date"] == "2024-05-01"
    assert rejects["part.parquet:000000005"][0] == "missing_field"
    assert rejects["broken.parquet"][0] == "damaged_file"
    _, docs, _ = run(tmp_path, params("parquet", ["*.parquet"], id="no_such_column"), "b")
    assert not docs  # every row misses the id field the settings name


def test_jsonl_members_of_a_tar_shard_are_records_too(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("x/one.jsonl", jsonl([record(1), b"oops"])), ("x/notes.txt", b"hi")]:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        member = tarfile.TarInfo("x/two.jsonl")
        data = jsonl([record(2), record(3)])
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    write(tmp_path, "raw/shard.tar.gz", buffer.getvalue())
    _, docs, rejects = run(tmp_path, params())
    assert [d["source"]["path"] for d in docs] == [
        "shard.tar.gz/x/one.jsonl:000000001",
        "shard.tar.gz/x/two.jsonl:000000001",
        "shard.tar.gz/x/two.jsonl:000000002",
    ]
    assert rejects["shard.tar.gz/x/one.jsonl:000000002"][0] == "bad_record"
    assert rejects["shard.tar.gz/x/notes.txt"][0] == "not_a_document"
    write(tmp_path, "raw/shard.tar.gz", buffer.getvalue())
    _, _, rejects = run(tmp_path, params("csv", ["*.jsonl"]), "csv")
    assert rejects["shard.tar.gz/x/one.jsonl"][0] == "format_in_archive"


def test_records_get_the_same_normalisation_as_files(tmp_path):
    rows = [
        record(1, title="Russiaâ€™s  headline"),
        record(2, text="Короткий"),  # too few words: filtered
        record(3, text="LONDON: " + BODY.format(n=3), related=["One", " Two "]),
    ]
    write(tmp_path, "raw/feed.jsonl", jsonl(rows))
    metrics, docs, _ = run(tmp_path, params(related="related"))
    by_title = {d["title"]: d for d in docs}
    assert "Russia’s headline" in by_title and "mojibake_fixed" in by_title["Russia’s headline"]["flags"]
    assert by_title["Headline 3"]["dateline"] == "LONDON" and by_title["Headline 3"]["related"] == ["One", "Two"]
    assert metrics["filtered"] == 1


def test_worker_count_and_a_second_run_do_not_change_a_byte(tmp_path):
    write(tmp_path, "raw/a.jsonl", jsonl(record(n) for n in range(500)))
    write(tmp_path, "raw/b.jsonl.gz", gzip.compress(jsonl(record(n) for n in range(500, 900))))
    section = params(id="url", normalize={"shard_rows": 50})
    run(tmp_path, section, "one", workers=1)
    run(tmp_path, section, "two", workers=2)
    run(tmp_path, section, "two", workers=2)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_a_schema_upgrade_alone_changes_no_content_hash():
    v1 = {"title": "t", "dateline": None, "text": "x", "related": ["r"]}
    assert content_sha256({**v1, "url": None, "date": None}) == content_sha256(v1)
    assert content_sha256({**v1, "url": "https://a", "date": None}) != content_sha256(v1)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"format": "xml"}, "normalize.format must be one of"),
        ({"format": "jsonl", "fields": {"text": ""}}, "normalize.fields.title and normalize.fields.text"),
        ({"fields": {"body": "text"}}, "unknown setting normalize.fields.body"),
    ],
)
def test_bad_format_settings_are_one_line(bad, message):
    with pytest.raises(BroadsheetError, match=message) as raised:
        parse({"normalize": bad})
    assert "\n" not in str(raised.value)


def test_a_long_line_is_too_large_alone_wherever_it_falls(tmp_path):
    early = jsonl([record(0), {"text": "x" * 5000}, record(1)])
    head, n = b"", 1
    while len(head) < records.CHUNK - 2500:  # the long line starts 2,500 bytes before the end of the first read
        head, n = head + jsonl([record(n)]), n + 1
    write(tmp_path, "raw/early.jsonl", early)
    write(tmp_path, "raw/late.jsonl", head + jsonl([{"text": "x" * 5000}, record(n)]))
    metrics, docs, rejects = run(tmp_path, params(normalize={"max_file_bytes": 2000}))
    assert rejects["early.jsonl:000000002"][0] == "too_large"
    assert rejects[f"late.jsonl:{n:09d}"][0] == "too_large" and len(rejects) == 2
    assert len(docs) == metrics["documents"] == 2 + n


def test_hostile_values_in_records_are_rejects_not_crashes(tmp_path):
    lines = [
        rb'{"title": "T\ud800x", "text": "' + BODY.encode().replace(b"\n", b"\\n") + b'"}',
        json.dumps(record(2, title="Emoji \U0001f600 fine")).encode(),
        rb'{"id": "\udfff", "title": "Odd id", "text": "' + BODY.encode().replace(b"\n", b"\\n") + b'"}',
        json.dumps(record(4)).encode(),
    ]
    write(tmp_path, "raw/feed.jsonl", jsonl(lines))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = gzip.compress(jsonl([record(5)]))
        member = tarfile.TarInfo("in.jsonl.gz")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    write(tmp_path, "raw/shard.tar", buffer.getvalue())
    _, docs, rejects = run(tmp_path, params())
    assert rejects["feed.jsonl:000000001"][0] == "undecodable"
    assert rejects["shard.tar/in.jsonl.gz"][0] == "format_in_archive"
    paths = ["feed.jsonl:000000002", "feed.jsonl:000000003", "feed.jsonl:000000004"]
    assert [d["source"]["path"] for d in docs] == paths
    _, docs, _ = run(tmp_path, params(id="id"), "by-id")
    assert [d["source"]["path"] for d in docs] == ["feed.jsonl:000000003"]  # an id of half a pair is still a value


def test_hostile_csv_rows_are_rejected_alone_or_stop_the_file_with_a_reason(tmp_path):
    row = "Headline {n}," + BODY.replace("\n\n", " ").replace(",", "")
    rows = [row.format(n=n) for n in range(1, 7)]
    big = 'Headline big,"' + "word " * 40_000 + '"'  # 200 KB: over Python's default field limit, under ours
    write(tmp_path, "raw/big.csv", "\n".join(["title,text", rows[0], big, rows[1]]) + "\n")
    write(tmp_path, "raw/cr.csv", "\n".join(["title,text", rows[0], "T,abc\rdef", "", rows[1]]) + "\n")
    write(tmp_path, "raw/quote.csv", "\n".join(["title,text", rows[0], 'T,"open', rows[1], rows[2]]) + "\n")
    write(tmp_path, "raw/twice.csv", "title,text,text\n" + rows[0] + ",second\n")
    metrics, docs, rejects = run(tmp_path, params("csv", ["*.csv"], normalize={"max_file_bytes": 1 << 20}))
    paths = sorted(d["source"]["path"] for d in docs)
    assert paths == ["big.csv:000000002", "big.csv:000000003", "big.csv:000000004", "cr.csv:000000002"] + [
        "cr.csv:000000005",
        "quote.csv:000000002",
    ]
    assert rejects["cr.csv:000000003"] == (
        "bad_record",
        "the row at line 3 has a carriage return in a field without quotes",
    )
    assert rejects["quote.csv:000000003"][0] == "bad_record" and "never closes" in rejects["quote.csv:000000003"][1]
    assert rejects["twice.csv"][0] == "damaged_file" and "'text' more than once" in rejects["twice.csv"][1]
    assert metrics["input_files"] == len(docs) + len(rejects)  # the blank line of cr.csv is no input


def test_hostile_parquet_columns_are_read_as_text_or_rejected(tmp_path):
    (tmp_path / "raw").mkdir()
    text = BODY.format(n=1)
    columns = {
        "title": pa.array([b"Binary title", b"T\xff", b"Third"], pa.binary()),
        "text": pa.array([text.encode()] * 3, pa.binary()),
        "date": pa.array([2**31 - 1, 0, 19000], pa.date32()),
        "seen": pa.array([2**62, 0, 1], pa.timestamp("us")),
    }
    pq.write_table(pa.table(columns), tmp_path / "raw" / "odd.parquet")
    pq.write_table(pa.table({"title": ["T"], "text": ["word " * (1 << 20)]}), tmp_path / "raw" / "big.parquet")
    n = 2000
    many = pa.table({"title": [f"T{i}" for i in range(n)], "text": [text] * n})
    pq.write_table(many, tmp_path / "raw" / "many.parquet", row_group_size=1)
    started = time.monotonic()
    metrics, docs, rejects = run(tmp_path, params("parquet", ["*.parquet"], normalize={"max_file_bytes": 1 << 20}))
    assert time.monotonic() - started < 120  # bounded, not timed: reopening the file per row group took minutes
    odd = [d for d in docs if d["source"]["path"].startswith("odd")]
    assert [(d["title"], d["date"]) for d in odd] == [
        ("Binary title", "<value out of range: 2147483647>"),
        ("Third", "2022-01-08"),
    ]
    assert rejects["odd.parquet:000000002"][0] == "undecodable"
    assert rejects["big.parquet:000000001"][0] == "too_large"
    assert metrics["documents"] == 2 + n


def test_jsonl_is_utf8_only_and_numbers_in_text_fields_are_kept_as_written(tmp_path):
    write(
        tmp_path,
        "raw/wide.jsonl",
        "\ufeff".encode("utf-16-le") + jsonl([record(1), record(2)]).decode().encode("utf-16-le"),
    )
    write(tmp_path, "raw/dated.jsonl", jsonl([record(3, date=20240501), record(4, date=2024.5, url=True)]))
    _, docs, rejects = run(tmp_path, params())
    assert not any(d["source"]["path"].startswith("wide") for d in docs)  # not half of it: none
    assert [(d["date"], d["url"]) for d in docs] == [("20240501", "https://news.example/3"), ("2024.5", None)]
    assert {reason for path, (reason, _) in rejects.items() if path.startswith("wide")} <= {"undecodable", "bad_record"}


def test_only_the_mapped_fields_of_a_record_are_read_and_odd_values_in_them_are_text_or_dropped(tmp_path):
    (tmp_path / "raw").mkdir()
    stamps = pa.array([{"at": 2**62}], pa.struct([("at", pa.timestamp("us"))]))
    columns = {"title": ["T"], "text": [BODY.format(n=1)], "digest": [bytes(range(200, 232))], "seen": stamps}
    pq.write_table(pa.table(columns), tmp_path / "raw" / "hashes.parquet")
    odd = record(2, related=[None, True, 1.5, {"a": "b"}, ["x"], "A real headline"])
    write(tmp_path, "raw/feed.jsonl", b"\xef\xbb\xbf" + jsonl([record(1), odd]))  # a UTF-8 BOM first
    _, docs, rejects = run(tmp_path, params(include=["*.jsonl"], related="related"))
    assert [r for r in rejects if r.startswith("feed")] == [] and len(docs) == 2
    assert docs[1]["related"] == ["1.5", "A real headline"]
    _, docs, rejects = run(tmp_path, params("parquet", ["*.parquet"]), "parquet")
    assert list(rejects) == ["feed.jsonl"] and [d["title"] for d in docs] == ["T"]  # hashes and far date unread


def test_a_parquet_file_with_none_of_the_fields_misses_them_in_every_row(tmp_path):
    (tmp_path / "raw").mkdir()
    pq.write_table(pa.table({"foo": [1, 2]}), tmp_path / "raw" / "other.parquet")
    _, docs, rejects = run(tmp_path, params("parquet", ["*.parquet"]))
    assert not docs and {reason for reason, _ in rejects.values()} == {"missing_field"} and len(rejects) == 2
