"""`broadsheet normalize` on folders as messy as real ones: every file is accounted for once."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from broadsheet import normalize
from broadsheet.core.params import FieldsParams, NormalizeParams
from broadsheet.core.values import Rejected, Source
from broadsheet.inputs import read as reading
from helpers import article, key, make_corpus, normalized_records, settings, tree_bytes, write


def read_records(out):
    return normalized_records(out)


def read_rejects(out):
    return {r["path"]: r for r in pq.read_table(out / "rejects.parquet").to_pylist()}


def read_filtered(out):
    return {r["path"]: r for r in pq.read_table(out / "filtered.parquet").to_pylist()}


EXPECTED_REJECTS = {
    "b/001_00000000000000aa.txt": "duplicate_id",
    "empty.txt": "empty",
    "blank.txt": "whitespace_only",
    "image.txt": "binary",
    "huge.txt": "too_large",
    "notes.md": "not_a_document",
    ".DS_Store": "not_a_document",
    "escape.txt": "symlink_outside_tree",
    "dir-link.txt": "symlink_to_directory",
    "broken.txt": "broken_symlink",
    "pipe.txt": "not_a_regular_file",
}


@pytest.fixture
def normalized(messy, tmp_path):
    out = tmp_path / "out"
    metrics = normalize.run([messy], out, settings(NormalizeParams(max_file_bytes=5000), workers=2), progress=False)
    return out, metrics


def test_every_file_is_a_record_or_a_reject_exactly_once(messy, normalized):
    out, metrics = normalized
    on_disk = [p for p in messy.rglob("*") if p.is_symlink() or not p.is_dir()]
    records, rejects, filtered = read_records(out), read_rejects(out), read_filtered(out)
    paths = [r["source"]["path"] for r in records] + list(rejects) + list(filtered)
    assert len(paths) == len(set(paths)) == len(on_disk) == metrics["input_files"]
    assert (
        metrics["input_files"] == metrics["documents"] + metrics["rejected"] + metrics["skipped"] + metrics["filtered"]
    )


def test_filtered_documents_are_listed_with_reason_and_value(normalized):
    out, metrics = normalized
    filtered = read_filtered(out)
    assert filtered["short.txt"]["reason"] == "too_few_words"
    assert filtered["short.txt"]["value"] == 2
    assert metrics["filtered_by_reason"] == {"too_few_words": 1}


def test_languages_and_encodings_are_counted(normalized):
    _, metrics = normalized
    assert metrics["documents_by_language"]["ru"] == 1
    assert metrics["documents_by_language"]["en"] >= 1
    assert metrics["documents_by_encoding"]["koi8-r"] == 1


def test_rejects_carry_the_reason_and_a_detail(normalized):
    out, metrics = normalized
    rejects = read_rejects(out)
    assert {path: r["reason"] for path, r in rejects.items()} == EXPECTED_REJECTS
    assert all(r["detail"] for r in rejects.values())
    assert "a/001_00000000000000aa.txt" in rejects["b/001_00000000000000aa.txt"]["detail"]
    assert metrics["skipped"] == 2
    assert metrics["rejected_by_reason"]["duplicate_id"] == 1
    assert "not_a_document" not in metrics["rejected_by_reason"]


def test_ids_are_unique_and_keyed_names_keep_their_key(normalized):
    out, _ = normalized
    records = read_records(out)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    by_path = {r["source"]["path"]: r for r in records}
    assert by_path["a/001_00000000000000aa.txt"]["id"] == "00000000000000aa"
    assert by_path["a/001_00000000000000aa.txt"]["source"]["ordinal"] == 1
    assert by_path["crlf.txt"]["source"]["ordinal"] is None


def test_odd_names_and_deep_trees_become_records(normalized):
    out, _ = normalized
    by_path = {r["source"]["path"]: r for r in read_records(out)}
    assert "ünïcödé/Ελληνικά – 文章.txt" in by_path
    assert "bad-name/caf\\xe9.txt" in by_path
    assert any(p.startswith("deep/d0/d1/") for p in by_path)
    assert by_path["inside-link.txt"]["text"] == by_path["crlf.txt"]["text"]
    assert by_path["cp1252/002_00000000000000bb.txt"]["text"] == "Costs rose to £5m this year."
    assert "decoded_cp1252" in by_path["cp1252/002_00000000000000bb.txt"]["flags"]


def test_records_are_in_source_order(normalized):
    out, _ = normalized
    records = read_records(out)
    order = [(r["source"]["ordinal"] is None, r["source"]["ordinal"] or 0, r["source"]["path"]) for r in records]
    assert order == sorted(order)
    assert records[0]["id"] == "812283e286aaf8e1"


def test_metrics_file_matches_returned_metrics(normalized):
    out, metrics = normalized
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["documents_by_encoding"]["cp1252"] == 1


def test_an_id_claimed_three_times_is_kept_once_and_the_others_name_the_keeper(tmp_path):
    for folder in ("c", "a", "b"):
        write(tmp_path / "src", f"{folder}/007_{key(7)}.txt", article(7))
    out = tmp_path / "out"
    metrics = normalize.run([tmp_path / "src"], out, settings(workers=1), progress=False)
    assert [r["source"]["path"] for r in read_records(out)] == [f"a/007_{key(7)}.txt"]
    rejects = read_rejects(out)
    assert set(rejects) == {f"b/007_{key(7)}.txt", f"c/007_{key(7)}.txt"}
    assert all(f"taken by a/007_{key(7)}.txt" in r["detail"] for r in rejects.values())
    assert metrics["rejected_by_reason"] == {"duplicate_id": 2}


def test_an_ordinal_too_large_for_the_schema_leaves_the_name_unkeyed(tmp_path):
    write(tmp_path / "src", f"{'9' * 20}_{key(1)}.txt", article(1))
    write(tmp_path / "src", f"{'9' * 18}_{key(2)}.txt", article(2))
    out = tmp_path / "out"
    normalize.run([tmp_path / "src"], out, settings(workers=1), progress=False)
    by_path = {r["source"]["path"]: r for r in read_records(out)}
    assert by_path[f"{'9' * 18}_{key(2)}.txt"]["source"]["ordinal"] == 10**18 - 1
    unkeyed = by_path[f"{'9' * 20}_{key(1)}.txt"]
    assert unkeyed["source"]["ordinal"] is None and unkeyed["id"] != key(1)


@pytest.mark.parametrize("size", [10, 100, 101, 200])
def test_a_file_that_grows_after_its_stat_is_read_whole_up_to_the_limit(tmp_path, monkeypatch, size):
    path = write(tmp_path, "grows.txt", "x" * size)
    source = Source(str(path), "grows.txt", "grows", None)
    real_fstat = os.fstat
    monkeypatch.setattr(reading.os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 3, *real_fstat(fd)[7:])))
    raw = reading.read(source, 100, FieldsParams())
    if size <= 100:
        assert raw == b"x" * size
    else:
        assert isinstance(raw, Rejected) and raw.reason == "too_large"


def test_worker_count_does_not_change_a_byte(tmp_path, messy):
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        normalize.run([messy], out, settings(NormalizeParams(shard_rows=2), workers=workers), progress=False)
        outs.append(tree_bytes(out))
    assert outs[0] == outs[1]
    assert len([p for p in outs[0] if p.startswith("data/")]) > 1


def test_touching_inputs_and_another_location_change_nothing(tmp_path):
    make_corpus(tmp_path / "one" / "raw", 30)
    first = tmp_path / "o1"
    normalize.run([tmp_path / "one" / "raw"], first, settings(workers=1), progress=False)
    os.rename(tmp_path / "one", tmp_path / "two")
    for p in (tmp_path / "two" / "raw").iterdir():
        os.utime(p, (1, 1))
    second = tmp_path / "elsewhere" / "o2"
    normalize.run([tmp_path / "two" / "raw"], second, settings(workers=2), progress=False)
    assert tree_bytes(first) == tree_bytes(second)


def test_several_sources_are_prefixed_by_their_names(tmp_path):
    write(tmp_path / "news", f"001_{key(1)}.txt", article(1))
    write(tmp_path / "blogs", "post.txt", article(2))
    out = tmp_path / "out"
    normalize.run([tmp_path / "news", tmp_path / "blogs"], out, settings(workers=1), progress=False)
    assert {r["source"]["path"] for r in read_records(out)} == {f"news/001_{key(1)}.txt", "blogs/post.txt"}


def test_a_folder_of_only_rejects_gives_empty_shards_and_full_rejects(tmp_path):
    write(tmp_path / "src", "empty.txt", b"")
    out = tmp_path / "out"
    metrics = normalize.run([tmp_path / "src"], out, settings(workers=1), progress=False)
    assert metrics["documents"] == 0 and metrics["rejected"] == 1
    assert list((out / "data").iterdir()) == []


def test_unchanged_shards_are_taken_from_the_previous_output_byte_for_byte(tmp_path, monkeypatch):
    from broadsheet.normalize import task
    from broadsheet.text import document

    calls = []

    def counting(raw, source, params, *known_hash):
        calls.append(source.relpath)
        return document.normalize_document(raw, source, params, *known_hash)

    monkeypatch.setattr(task, "normalize_document", counting)
    params = NormalizeParams(shard_rows=10)
    make_corpus(tmp_path / "raw", 300)
    out = tmp_path / "out"
    normalize.run([tmp_path / "raw"], out, settings(params, workers=1), progress=False)
    assert len(calls) == 300
    make_corpus(tmp_path / "raw", 3, start=300)  # 1% more documents
    write(tmp_path / "raw", f"{7:06d}_{key(7)}.txt", article(7) + " An edit.")
    calls.clear()
    normalize.run([tmp_path / "raw"], out, settings(params, workers=1), progress=False)
    assert len(calls) == 4, "only the new and the edited files are normalised again"
    normalize.run([tmp_path / "raw"], tmp_path / "fresh", settings(params, workers=1), progress=False, fresh=True)
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")

    calls.clear()
    shard = sorted((out / "data").iterdir())[0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"!")  # a previous shard that is not what its index says
    normalize.run([tmp_path / "raw"], out, settings(params, workers=1), progress=False)
    assert 0 < len(calls) <= 80
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")

    calls.clear()
    normalize.run(
        [tmp_path / "raw"],
        out,
        settings(NormalizeParams(shard_rows=10, extract_dateline=False), workers=1),
        progress=False,
    )
    assert len(calls) == 303, "other params: nothing is reused"
