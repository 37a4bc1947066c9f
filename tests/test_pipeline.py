"""The pipeline as a researcher runs it: real git, real `dvc repro`, real `load_from_disk`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import datasets
import pytest

from broadsheet import normalize
from helpers import REPO, article, make_corpus, repro, settings, sh, tree_bytes

pytestmark = pytest.mark.slow


@pytest.fixture
def project(built_project, tmp_path):
    """This repo's pipeline on the seed and 40 articles, after dvc repro, committed."""
    root = tmp_path / "project"
    shutil.copytree(built_project("pipeline"), root, symlinks=True)
    return root


def test_repro_builds_a_dataset_that_load_from_disk_opens(project):
    corpus = datasets.load_from_disk(str(project / "corpus" / "dataset"))
    rows = [r for split in corpus.values() for r in split]
    assert len(rows) == 41
    (seed,) = [r for r in rows if r["id"] == "812283e286aaf8e1"]
    assert seed["title"].startswith("Kremlin reaffirms opposition")
    assert seed["dateline"] == "MOSCOW/WASHINGTON"
    assert len(seed["related"]) == 16
    assert (project / "metrics" / "normalize.json").is_file() and (project / "metrics" / "publish.json").is_file()


def test_second_repro_does_nothing(project, env):
    before = tree_bytes(project / "corpus")
    out = repro(project, env)
    assert "Running stage" not in out
    assert out.count("didn't change, skipping") == 3
    assert tree_bytes(project / "corpus") == before


def test_touching_an_input_changes_nothing(project, env):
    for path in (project / "corpus" / "raw").iterdir():
        os.utime(path, (time.time() + 100, time.time() + 100))
    assert "Data and pipelines are up to date" in sh(project, env, "dvc", "status")
    assert "Running stage" not in repro(project, env)


def test_a_publish_param_reruns_publish_only(project, env):
    params = project / "params.yaml"
    params.write_text(
        params.read_text().replace(
            "shard_rows: 1000            # target rows per content-defined Arrow", "shard_rows: 5  # changed"
        )
    )
    out = repro(project, env)
    assert "Running stage 'publish'" in out and "Running stage 'normalize'" not in out


def test_outputs_are_dvc_tracked_and_git_ignored(project, env):
    sh(project, env, "git", "add", "-A")
    tracked = sh(project, env, "git", "ls-files")
    assert "dvc.lock" in tracked and "metrics/normalize.json" in tracked
    assert "corpus/dataset" not in tracked and "corpus/normalized" not in tracked


def test_two_clones_in_different_folders_produce_the_same_lock(project, env, tmp_path):
    sh(project, env, "git", "add", "-A")
    sh(project, env, "git", "commit", "-qm", "v1")
    locks = []
    for name in ("clone-a", "deeper/clone-b"):
        clone = tmp_path / name
        clone.parent.mkdir(parents=True, exist_ok=True)
        sh(tmp_path, env, "git", "clone", "-q", str(project), str(clone))
        repro(clone, env)
        locks.append((clone / "dvc.lock").read_bytes())
        assert tree_bytes(clone / "corpus" / "dataset") == tree_bytes(project / "corpus" / "dataset")
    assert locks[0] == locks[1] == (project / "dvc.lock").read_bytes()


def test_killed_run_leaves_the_previous_output_whole(tmp_path, cli_env):
    raw = tmp_path / "raw"
    make_corpus(raw, 3000)
    out = tmp_path / "normalized"
    normalize.run([raw], out, settings(workers=1), progress=False)
    before = tree_bytes(out)
    (raw / "new.txt").write_text(article(99999))
    proc = subprocess.Popen(
        [sys.executable, "-m", "broadsheet", "normalize", str(raw), "--out", str(out), "--workers", "1", "-q"],
        env=cli_env,
    )

    def partial() -> list:
        return list(tmp_path.glob(".normalized.broadsheet-partial*"))

    deadline = time.time() + 60
    while not partial() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert tree_bytes(out) == before
    metrics = normalize.run([raw], out, settings(workers=1), progress=False)
    assert metrics["documents"] == 3001
    assert not partial()


def test_committed_lock_matches_this_checkouts_code_and_params(env):
    """dvc.lock is committed with the code that produced it: no dependency of a stage differs from it."""
    import json

    status = json.loads(sh(REPO, env, "dvc", "status", "--json"))
    stale = [
        path
        for changes in status.values()
        for change in changes
        if isinstance(change, dict)
        for path in change.get("changed deps", {})
        if not path.startswith("corpus/")  # data: absent in a fresh clone until `dvc repro`
    ]
    assert not stale, f"run `dvc repro` and commit dvc.lock; changed since it was written: {stale}"


def test_validate_checks_a_workspace_that_dvc_checks_out_as_links_to_its_cache(project, env):
    sh(project, env, "dvc", "config", "cache.type", "symlink")
    sh(project, env, "dvc", "checkout", "--relink", "-q")
    dataset = project / "corpus" / "dataset"
    shard = next((dataset / "train").glob("*.arrow"))
    assert shard.is_symlink() and ".dvc" in os.path.realpath(shard)
    assert "ok" in sh(project, env, "broadsheet", "validate", "corpus/dataset")
    shard.unlink()
    shard.symlink_to(project / "corpus" / "raw" / "000_812283e286aaf8e1.txt")  # a link, but to no cache object
    result = subprocess.run(["broadsheet", "validate", "corpus/dataset"], cwd=project, env=env, capture_output=True)
    assert result.returncode != 0 and b"is a symbolic link" in result.stdout + result.stderr
