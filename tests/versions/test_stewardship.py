"""Stewardship: takedowns that reach every version, explain, diff's reasons, the change feed, the fingerprint."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import broadsheet
from broadsheet import normalize, publish
from broadsheet.core import takedowns
from broadsheet.inputs.names import identify
from broadsheet.publish import layout
from broadsheet.publish.stage import Inputs
from helpers import article, key, make_corpus, make_project, repro, settings, sh, write


def every_text(folder) -> str:
    """Every string every file under ``folder`` holds, Parquet and Arrow decoded (their bytes are compressed)."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            found.append(str(pq.read_table(path).to_pylist()))
        elif path.suffix == ".arrow":
            found.append(str(layout.read_arrow(path).to_pylist()))
        else:
            found.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(found)


def test_a_taken_down_documents_text_is_in_no_output_and_every_file_is_accounted_for(tmp_path):
    make_corpus(tmp_path / "raw", 30)
    secret = "w7x13 w7x14 w7x15"  # words only document 7's text holds
    gone = {key(7): takedowns.Takedown(key(7), "privacy request", "2026-11-30")}
    gone["0123456789abcdef"] = takedowns.Takedown("0123456789abcdef", "no such document", "2026-11-30")
    metrics = normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False, takedowns=gone)
    assert metrics["taken_down"] == 1 and metrics["takedowns_unmatched"] == ["0123456789abcdef"]
    assert metrics["input_files"] == metrics["documents"] + metrics["rejected"] + metrics["skipped"] + 1
    published = publish.run(tmp_path / "n", tmp_path / "ds", settings(), progress=False)
    assert published["taken_down"] == 1 and published["documents"] == 29
    assert pq.read_table(tmp_path / "ds" / "takedowns.parquet").to_pylist() == [
        {"id": key(7), "reason": "privacy request", "date": "2026-11-30"}
    ]
    for folder in ("n", "ds"):
        assert secret not in every_text(tmp_path / folder)
    assert secret in every_text(tmp_path / "raw")


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """A corpus released three times as a user would: v1; v2 adds, edits and deletes articles (one a copy of
    another); v3 takes two down and raises a filter's minimum. Pushed to a local remote."""
    import os
    import sys
    from pathlib import Path

    base = tmp_path_factory.mktemp("stewardship")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
        DVC_NO_ANALYTICS="1",
        BROADSHEET_CACHE=str(base / "bs-cache"),
    )
    root = make_project(base / "corpus", env, extra_docs=40)
    raw = root / "corpus" / "raw"
    write(raw, "short.txt", "Short\nToo short.")  # filtered: too few words
    write(raw, "empty.txt", b"")  # rejected: empty
    sh(root, env, "dvc", "remote", "add", "-d", "storage", str(base / "remote"))
    repro(root, env)
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", "v1 articles")
    sh(root, env, "broadsheet", "release", "v1")
    make_corpus(raw, 5, start=100)
    write(raw, f"{5:06d}_{key(5)}.txt", article(5).replace("Second paragraph", "An edited paragraph"))
    (raw / f"{6:06d}_{key(6)}.txt").unlink()
    write(raw, f"{200:06d}_{key(200)}.txt", article(3))  # an exact copy of document 3
    repro(root, env)
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", "v2 articles")
    sh(root, env, "broadsheet", "release", "v2")
    sh(root, env, "broadsheet", "takedown", key(8), key(9), "--reason", "copyright claim", "--date", "2026-11-30")
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("min_words: 5", "min_words: 70"))  # 64-word articles go
    write(raw, f"{300:06d}_{key(300)}.txt", article(300, words=80))  # one long enough to stay
    repro(root, env)
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", "v3 takedowns and a stricter filter")
    sh(root, env, "broadsheet", "release", "v3")
    return root, env, base


def explain(root, env, *args) -> dict:
    return json.loads(sh(root, env, "broadsheet", "explain", *args, "--json", stdout_only=True))


@pytest.mark.slow
def test_explain_tells_each_documents_story_across_the_releases(releases):
    root, env, _ = releases
    edited = explain(root, env, key(5), "--rev", "v2")
    assert edited["outcome"] == "published" and edited["split"] in ("train", "validation", "test")
    assert edited["source"]["path"] == f"{5:06d}_{key(5)}.txt" and len(edited["source"]["raw_sha256"]) == 64
    assert [(e["rev"], e["change"]) for e in edited["history"]] == [
        ("v1", "added"),
        ("v2", "changed"),
        ("v3", "removed"),
    ]
    assert "raw edited" in edited["history"][1]["why"] and "filtered by too_few_words" in edited["history"][2]["why"]
    taken = explain(root, env, key(8))
    assert taken["outcome"] == "taken_down" and "copyright claim" in taken["detail"] and "2026-11-30" in taken["detail"]
    assert taken["history"][-1] == {
        "rev": "v3",
        "change": "removed",
        "why": "now taken down on 2026-11-30: copyright claim",
    }
    copy = explain(root, env, key(200), "--rev", "v2")
    assert copy["outcome"] == "duplicate" and copy["kept_id"] == key(3)
    assert explain(root, env, key(3), "--rev", "v2")["duplicates"] == [key(200)]
    assert explain(root, env, key(6))["history"][-1]["why"] == "its raw file is gone"
    filtered = explain(root, env, key(1))
    assert filtered["outcome"] == "filtered" and filtered["reason"] == "too_few_words" and filtered["value"] < 70
    rejected = explain(root, env, identify("empty.txt")[0])
    assert rejected["outcome"] == "rejected" and rejected["reason"] == "empty"
    unknown = explain(root, env, "ffffffffffffffff")
    assert unknown["outcome"] == "absent" and unknown["history"] == []
    text = sh(
        root,
        env,
        "broadsheet",
        "explain",
        "--text",
        str(root / "corpus" / "raw" / f"{4:06d}_{key(4)}.txt"),
        "--rev",
        "v1",
    )
    assert f"in v1, as {key(4)}" in text
    (root.parent / "new.txt").write_text(article(999))
    assert "not in v1" in sh(root, env, "broadsheet", "explain", "--text", str(root.parent / "new.txt"), "--rev", "v1")


@pytest.mark.slow
def test_diff_gives_reasons_both_ways(releases):
    root, env, _ = releases
    forward = json.loads(sh(root, env, "broadsheet", "diff", "v2", "v3", "--json", stdout_only=True))
    assert forward["removed_why"][key(8)] == "now taken down on 2026-11-30: copyright claim"
    assert forward["removed_why"][key(2)].startswith("now filtered by too_few_words")
    backward = json.loads(sh(root, env, "broadsheet", "diff", "v3", "v2", "--json", stdout_only=True))
    assert backward["added_why"][key(8)] == "was taken down on 2026-11-30: copyright claim"
    assert "its text or the filter settings changed" in backward["added_why"][key(2)]
    v1_to_v2 = json.loads(sh(root, env, "broadsheet", "diff", "v1", "v2", "--json", stdout_only=True))
    assert (
        v1_to_v2["added_why"][key(100)] == "a new raw file"
        and v1_to_v2["removed_why"][key(6)] == "its raw file is gone"
    )
    text = sh(root, env, "broadsheet", "diff", "v2", "v3")
    assert f"{key(8)}  {8:06d}_{key(8)}.txt  [now taken down on 2026-11-30: copyright claim]" in text


@pytest.mark.slow
def test_a_colleague_loads_old_versions_without_the_takedowns_unless_asked(releases, tmp_path):
    root, env, base = releases
    clone = tmp_path / "clone"
    sh(tmp_path, env, "git", "clone", "-q", str(root), str(clone))
    url = f"file://{root}"
    for repo in (str(clone), url):
        v1 = broadsheet.load(repo, rev="v1", cache_dir=tmp_path / "cache")
        ids = {i for split in v1.values() for i in split["id"]}
        assert key(8) not in ids and key(9) not in ids and key(7) in ids
        whole = broadsheet.load(repo, rev="v1", cache_dir=tmp_path / "cache", takedowns=False)
        assert {key(8), key(9)} <= {i for split in whole.values() for i in split["id"]}


@pytest.mark.slow
def test_each_release_publishes_a_change_feed_and_the_takedown_list_that_dvc_get_reaches(releases, tmp_path):
    root, env, _ = releases
    sh(tmp_path, env, "dvc", "get", str(root), "changes/v3.parquet", "--rev", "v3", "-o", str(tmp_path / "v3.parquet"))
    feed = {row["id"]: row for row in pq.read_table(tmp_path / "v3.parquet").to_pylist()}
    assert feed[key(8)]["change"] == "removed" and "copyright claim" in feed[key(8)]["why"]
    assert feed[key(300)] == {
        "id": key(300),
        "change": "added",
        "why": "a new raw file",
        "split": feed[key(300)]["split"],
    }
    first = pq.read_table(sh_get(root, env, tmp_path, "changes/v1.parquet", "v1")).column("change").to_pylist()
    assert set(first) == {"added"} and len(first) > 30
    assert "changes/v3.parquet" in (root / "CHANGELOG.md").read_text()
    listed = takedowns.read(sh_get(root, env, tmp_path, "takedowns.csv", "v3"))
    assert sorted(listed) == sorted([key(8), key(9)])


def sh_get(root, env, tmp_path, path: str, rev: str):
    target = tmp_path / f"{rev}-{path.replace('/', '-')}"
    sh(tmp_path, env, "dvc", "get", str(root), path, "--rev", rev, "-o", str(target))
    return target


def test_the_fingerprint_does_not_depend_on_workers_or_shards_and_validate_recomputes_it(tmp_path):
    make_corpus(tmp_path / "raw", 120)
    found = {}
    for workers, rows in ((1, 1000), (2, 7)):
        from broadsheet.core.params import NormalizeParams, PublishParams

        out = tmp_path / f"w{workers}"
        normalize.run(
            [tmp_path / "raw"], out / "n", settings(NormalizeParams(shard_rows=rows), workers=workers), progress=False
        )
        metrics = publish.run(Inputs(out / "n"), out / "ds", settings(PublishParams(shard_rows=rows)), progress=False)
        found[workers] = metrics["fingerprint"]
        croissant = json.loads((out / "ds" / "croissant.json").read_text())
        assert croissant["identifier"] == metrics["fingerprint"]["all"]
        assert metrics["fingerprint"]["all"] in (out / "ds" / "README.md").read_text()
    assert found[1] == found[2] and len(list((tmp_path / "w2" / "ds" / "train").glob("*.arrow"))) > 1
    from broadsheet.publish import validate

    assert validate.validate(tmp_path / "w2" / "ds") == []
    metrics_file = tmp_path / "w2" / "ds" / "metrics.json"
    metrics_file.write_text(metrics_file.read_text().replace(found[2]["train"], "sha256:" + "0" * 64))
    assert any("fingerprint is not the shards'" in p for p in validate.validate(tmp_path / "w2" / "ds"))


def test_the_hub_export_is_written_with_content_defined_pages_and_reads_everywhere(tmp_path):
    import duckdb
    import polars as pl

    make_corpus(tmp_path / "raw", 50)
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    publish.run(tmp_path / "n", tmp_path / "a", settings(), progress=False)
    publish.run(tmp_path / "n", tmp_path / "b", settings(), progress=False)
    parquet = sorted((tmp_path / "a" / "data").glob("*.parquet"))
    assert [p.read_bytes() for p in parquet] == [(tmp_path / "b" / "data" / p.name).read_bytes() for p in parquet]
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parquet)
    assert pl.read_parquet(str(tmp_path / "a" / "data" / "*.parquet")).height == rows == 50
    assert duckdb.sql(f"select count(*) from '{tmp_path / 'a' / 'data'}/*.parquet'").fetchall()[0][0] == 50
