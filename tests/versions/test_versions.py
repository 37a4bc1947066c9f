"""Versions as a researcher uses them: release, push, edit, release, diff, load from a fresh clone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import broadsheet
from broadsheet.core.errors import BroadsheetError
from broadsheet.versions import diff, manifests
from broadsheet.versions import load as versions
from helpers import article, key, make_corpus, make_project, repro, settings, sh, tree_bytes, write

pytestmark = pytest.mark.slow

DOCS = 600
SMALL_SHARDS = {"normalize": 20, "publish": 20}


def use_small_shards(root: Path) -> None:
    """Dozens of shards from a few hundred documents."""
    params = root / "params.yaml"
    text = params.read_text()
    text = text.replace(
        "shard_rows: 1000            # target rows per content-defined Parquet", "shard_rows: 20  # Parquet"
    )
    text = text.replace(
        "shard_rows: 1000            # target rows per content-defined Arrow", "shard_rows: 20  # Arrow"
    )
    assert text.count("shard_rows: 20") == 2
    params.write_text(text)


def cache_objects(root: Path) -> set[str]:
    return {str(p.relative_to(root / ".dvc" / "cache")) for p in (root / ".dvc" / "cache").rglob("*") if p.is_file()}


def shard_hashes(root: Path) -> dict[str, set[str]]:
    """Content hashes of the shard files of each output, by output."""
    found = {}
    for name, pattern in (
        ("normalized", "corpus/normalized/data/*.parquet"),
        ("dataset", "corpus/dataset/*/data-*.arrow"),
    ):
        found[name] = {tree_bytes(p.parent)[p.name] for p in root.glob(pattern)}
    return found


def new_shards(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, int]:
    return {name: len(after[name] - before[name]) for name in before}


def commit(root: Path, env: dict, message: str) -> None:
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", message)


@pytest.fixture
def corpus_repo(built_project, tmp_path, env):
    """A git + DVC repository of DOCS articles in small shards, built, with a remote of its own, committed."""
    root = tmp_path / "corpus-repo"
    shutil.copytree(built_project("versions", DOCS, use_small_shards), root, symlinks=True)
    remote = tmp_path / "remote"
    remote.mkdir()
    sh(root, env, "dvc", "remote", "add", "-d", "storage", str(remote))
    commit(root, env, "corpus with a remote")
    return root


def edit(raw: Path, n: int) -> str:
    path = raw / f"{n:06d}_{key(n)}.txt"
    path.write_text(path.read_text().replace("Second paragraph", "An edited second paragraph"))
    return key(n)


def test_release_push_edit_release_diff_and_load_both_from_a_fresh_clone(corpus_repo, env, tmp_path):
    root = corpus_repo
    out = sh(root, env, "broadsheet", "release", "v1")
    assert "released v1" in out
    v1_bytes = tree_bytes(root / "corpus" / "dataset")
    before = cache_objects(root)
    shards_before = shard_hashes(root)

    raw = root / "corpus" / "raw"
    added = [key(n) for n in range(DOCS + 1, DOCS + 31)]
    make_corpus(raw, 30, start=DOCS + 1)
    edited = [edit(raw, n) for n in (100, 200, 300)]
    (raw / f"{400:06d}_{key(400)}.txt").unlink()
    repro(root, env)
    commit(root, env, "30 new articles, 3 edited, 1 removed")
    sh(root, env, "broadsheet", "release", "v2")
    v2_bytes = tree_bytes(root / "corpus" / "dataset")

    report = json.loads(sh(root, env, "broadsheet", "diff", "v1", "v2", "--json", stdout_only=True))
    assert sorted(report["added"]) == sorted(added)
    assert sorted(report["changed"]) == sorted(edited)
    assert report["removed"] == [key(400)]
    assert report["moved_split"] == []
    assert all(why == {"cause": "raw_edited", "text_changed": True} for why in report["changed_why"].values())
    assert "Compared with v1" in (root / "CHANGELOG.md").read_text()
    assert "### v2" in (root / "corpus" / "dataset" / "README.md").read_text()

    # Versions cost what changed: shards of an edited document, plus the last shard of each split.
    grown = new_shards(shards_before, shard_hashes(root))
    assert grown["normalized"] <= 3 + 1 + 2, grown  # 3 edits, the appended tail, a removal (<= 2 shards)
    assert grown["dataset"] <= 3 + 3 + 2, grown  # 3 edits, the last shard of each of 3 splits, a removal
    total_shards = sum(len(s) for s in shard_hashes(root).values())
    assert total_shards > 40
    cache = root / ".dvc" / "cache"
    new_bytes = sum((cache / o).stat().st_size for o in cache_objects(root) - before)
    all_bytes = sum((cache / o).stat().st_size for o in cache_objects(root))
    # A full rewrite would store as much again; what is new here is the changed shards, the small
    # metadata files, and the manifest (tiny next to real articles, large next to these 60-word ones).
    assert new_bytes < 0.4 * all_bytes, (new_bytes, all_bytes)

    clone = tmp_path / "colleague"
    sh(tmp_path, env, "git", "clone", "-q", str(root), str(clone))
    for rev, expected in (("v1", v1_bytes), ("v2", v2_bytes)):
        folder = versions.fetch(str(clone), rev, cache_dir=tmp_path / "cache")
        assert tree_bytes(folder) == expected, rev
        loaded = broadsheet.load(str(clone), rev=rev, cache_dir=tmp_path / "cache")
        assert sum(len(s) for s in loaded.values()) == (DOCS + 1 if rev == "v1" else DOCS + 30)

    from_url = versions.fetch(f"file://{root}", "v2", cache_dir=tmp_path / "url-cache")
    assert tree_bytes(from_url) == v2_bytes
    sh(tmp_path, env, "dvc", "get", str(root), "corpus/dataset", "--rev", "v1", "-o", str(tmp_path / "got-v1"))
    assert tree_bytes(tmp_path / "got-v1") == v1_bytes
    metrics = sh(root, env, "dvc", "metrics", "diff", "v1", "v2")
    assert "documents" in metrics and "630" in metrics


def test_an_unchanged_corpus_adds_no_cache_objects(corpus_repo, env):
    before = cache_objects(corpus_repo)
    sh(corpus_repo, env, "dvc", "repro", "--force")
    assert cache_objects(corpus_repo) == before


def test_appending_documents_adds_only_the_last_shard_of_each_split(corpus_repo, env):
    before = shard_hashes(corpus_repo)
    make_corpus(corpus_repo / "corpus" / "raw", 10, start=DOCS + 1)
    repro(corpus_repo, env)
    grown = new_shards(before, shard_hashes(corpus_repo))
    assert grown["normalized"] == 1
    assert grown["dataset"] <= 3


def test_diff_of_two_published_folders(tmp_path):
    raw = tmp_path / "raw"
    make_corpus(raw, 20)
    broadsheet.normalize.run([raw], tmp_path / "n", settings(workers=1), progress=False)
    broadsheet.publish.run(tmp_path / "n", tmp_path / "a", settings(), progress=False)
    write(raw, f"{5:06d}_{key(5)}.txt", article(5).replace("Headline", "New headline"))
    broadsheet.normalize.run([raw], tmp_path / "n", settings(workers=1), progress=False)
    broadsheet.publish.run(tmp_path / "n", tmp_path / "b", settings(), progress=False)
    report = diff.compare(manifests.open_version(str(tmp_path / "a")), manifests.open_version(str(tmp_path / "b")))
    assert report["changed"] == [key(5)]
    assert report["changed_why"][key(5)] == {"cause": "raw_edited", "text_changed": False}
    text = diff.format_text(report)
    assert "title, dateline or related only" in text and "params: not compared" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("split"))
    assert f" {tmp_path / 'a'}  " in header and header.rstrip().endswith(f"{tmp_path / 'b'}    added  removed  changed")
    assert text.startswith(f"corpus {tmp_path / 'a'} -> {tmp_path / 'b'}")  # folders named as given


def test_diff_names_changed_params_and_normalisation_changes(corpus_repo, env):
    sh(corpus_repo, env, "git", "tag", "before")
    params = corpus_repo / "params.yaml"
    params.write_text(params.read_text().replace("fix_acute_apostrophe: true", "fix_acute_apostrophe: false"))
    repro(corpus_repo, env)
    commit(corpus_repo, env, "keep acute accents")
    report = json.loads(sh(corpus_repo, env, "broadsheet", "diff", "before", "HEAD", "--json", stdout_only=True))
    assert report["params"]["changed"] == {"normalize.fix_acute_apostrophe": {"a": True, "b": False}}
    assert report["changed"] == ["812283e286aaf8e1"]  # the seed has Russia´s
    assert report["changed_why"]["812283e286aaf8e1"]["cause"] == "normalisation_changed"


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["diff", "nope", "HEAD"], "unknown revision 'nope'"),
        ("tag", ["release", "v1"], "tag v1 already exists"),
        ("dirty", ["release", "v9"], "work tree is not clean"),
        ("no-remote", ["release", "v9"], "no default DVC remote"),
        ("stale", ["release", "v9"], "pipeline is not up to date"),
        (None, ["release", "bad..name"], "is not a version name"),
        (None, ["release", "--", "-v2"], "is not a version name"),
        (None, ["release", "<img/src=x/onerror=alert(1)>"], "is not a version name"),
        (None, ["diff", "HEAD^{tree}", "HEAD"], "unknown revision 'HEAD^{tree}'"),
    ],
)
def test_version_commands_fail_with_one_line(corpus_repo, env, setup, args, message):
    if setup == "tag":
        sh(corpus_repo, env, "git", "tag", "v1")
    elif setup == "dirty":
        (corpus_repo / "corpus" / "raw" / "new.txt").write_text("New\nBody.")
    elif setup == "no-remote":
        sh(corpus_repo, env, "dvc", "remote", "remove", "storage")
        commit(corpus_repo, env, "no remote")
    elif setup == "stale":
        params = corpus_repo / "params.yaml"
        params.write_text(
            params.read_text().replace("train: 0.8", "train: 0.7").replace("validation: 0.1", "validation: 0.2")
        )
        commit(corpus_repo, env, "params changed, not reproduced")
    result = subprocess.run(["broadsheet", *args], cwd=corpus_repo, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "v9" not in sh(corpus_repo, env, "git", "tag")


def test_load_without_rev_reads_the_workspace_and_a_missing_dataset_is_a_clear_error(corpus_repo, tmp_path):
    loaded = broadsheet.load(str(corpus_repo))
    assert sum(len(s) for s in loaded.values()) == DOCS + 1
    shutil.rmtree(corpus_repo / "corpus" / "dataset")
    with pytest.raises(BroadsheetError, match="no published dataset"):
        broadsheet.load(str(corpus_repo))


@pytest.mark.slow
def test_a_release_is_refused_while_the_raw_folder_holds_files_git_ignores_and_a_clone_reproduces_it(tmp_path, env):
    root = make_project(tmp_path / "corpus", env, extra_docs=5)
    (tmp_path / "remote").mkdir()
    sh(root, env, "dvc", "remote", "add", "-d", "storage", str(tmp_path / "remote"))
    ignored = write(root / "corpus" / "raw" / "__pycache__", "cached.txt", article(99))  # .gitignore: __pycache__/
    repro(root, env)
    commit(root, env, "corpus")
    refused = subprocess.run(["broadsheet", "release", "v1"], cwd=root, env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "corpus/raw/__pycache__/cached.txt" in refused.stderr, refused.stderr
    assert "missing from what git and DVC record" in refused.stderr and "v1" not in sh(root, env, "git", "tag")
    ignored.unlink()
    repro(root, env)
    commit(root, env, "without the ignored file")
    sh(root, env, "broadsheet", "release", "v1")
    clone = tmp_path / "clone"
    sh(tmp_path, env, "git", "clone", "-q", "--branch", "v1", str(root), str(clone))
    repro(clone, env)  # from nothing: the raw files in git, the code, the params
    sh(clone, env, "git", "diff", "--exit-code", "dvc.lock", "metrics")


@pytest.mark.slow
def test_release_refuses_an_unchanged_corpus_works_from_a_subfolder_and_shows_dvcs_own_push_error(tmp_path, env):
    root = make_project(tmp_path / "corpus", env, extra_docs=5)
    sh(root, env, "dvc", "remote", "add", "-d", "storage", str(tmp_path / "remote"))
    repro(root, env)
    commit(root, env, "corpus")
    sh(
        root / "corpus" / "raw", env, "broadsheet", "release", "v1", "--repo", ".", "--no-push"
    )  # any folder of the clone
    assert "v1" in sh(root, env, "git", "tag")
    unchanged = subprocess.run(
        ["broadsheet", "release", "v2", "--no-push"], cwd=root, env=env, capture_output=True, text=True
    )
    assert unchanged.returncode == 1 and "nothing changed since v1" in unchanged.stderr
    assert sh(root, env, "git", "status", "--porcelain") == "" and "v2" not in sh(root, env, "git", "tag")
    sh(root, env, "broadsheet", "release", "v2", "--no-push", "--allow-empty")
    (tmp_path / "remote").write_text("a file where the remote folder should be")
    write(root / "corpus" / "raw", "new.txt", article(77))
    repro(root, env)
    commit(root, env, "one more")
    pushed = subprocess.run(["broadsheet", "release", "v3"], cwd=root, env=env, capture_output=True, text=True)
    lines = pushed.stderr.strip().splitlines()
    assert pushed.returncode == 1 and len(lines) == 1 and "ERROR:" in lines[0] and "dvc.org/support" not in lines[0]
    assert "v3 is committed and tagged" in lines[0]


def test_a_folder_named_like_a_tag_does_not_hide_the_tag(tmp_path, monkeypatch):
    (tmp_path / "v2" / "manifest").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BroadsheetError, match="unknown revision|cannot open"):
        manifests.open_version("v2", repo=str(tmp_path))
    with pytest.raises(BroadsheetError, match="no manifest"):
        manifests.open_version("./v2")


BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "args", [["diff", "vb", "vb"], ["explain", "0123456789abcdef", "--rev", "vb"], ["release", "v9"]]
)
def test_a_params_yaml_dvc_would_hang_on_is_one_line_at_a_revision_or_in_the_workspace(tmp_path, env, args):
    sh(tmp_path, env, "git", "init", "-q")
    (tmp_path / "params.yaml").write_text(BOMB)  # DVC expands it for its templating when it opens the repository
    sh(tmp_path, env, "git", "add", "params.yaml")
    sh(tmp_path, env, "git", "commit", "-qm", "a bomb")
    sh(tmp_path, env, "git", "tag", "vb")
    done = subprocess.run(["broadsheet", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "anchor or alias" in done.stderr, done.stderr
