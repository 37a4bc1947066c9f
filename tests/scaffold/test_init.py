"""Anyone's corpus: the toolkit installed from a wheel, `broadsheet init`, and a pin that re-runs the stages."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from broadsheet.scaffold import pipeline
from helpers import REPO, article, key, sh, write

GERMAN = (
    "Die Regierung hat am Montag neue Regeln für den Handel vorgestellt. Nach Angaben des Ministeriums sollen die "
    "Zölle im kommenden Jahr sinken, während die Industrie weitere Entlastungen fordert."
)


def test_this_repositorys_dvc_yaml_holds_the_stages_init_writes_with_the_code_as_deps():
    assert yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"] == pipeline.stages(own_code=True)


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, cli_env):
    write(tmp_path / "news", "thesis.tex", "x")
    done = subprocess.run(
        [sys.executable, "-m", "broadsheet", "init", str(tmp_path / "news")],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "is not an empty folder" in done.stderr and done.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh virtual environment with broadsheet installed from a wheel built here (its dependencies seen
    from this environment, so nothing is downloaded); the environment to run its commands in."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "corpus", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    venv = work / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    fresh_site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")  # no .pth of ours is read there
    wheel = next((work / "dist").glob("broadsheet-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", DVC_NO_ANALYTICS="1"
    )
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return {"env": env, "venv": venv, "work": work}


@pytest.mark.slow
def test_the_installed_command_comes_from_the_wheel_and_names_its_version(installed):
    env = installed["env"]
    assert (
        sh(installed["work"], env, "broadsheet", "--version", stdout_only=True).strip() == "broadsheet, version 0.1.0"
    )
    where = sh(
        installed["work"], env, "python", "-c", "import broadsheet, sys; print(broadsheet.__file__)", stdout_only=True
    )
    assert where.startswith(str(installed["venv"])), where


@pytest.mark.slow
def test_init_makes_a_corpus_repository_that_builds_twice_the_same_and_a_new_pin_reruns_every_stage(installed):
    env, work = installed["env"], installed["work"]
    sh(work, env, "broadsheet", "init", "news")
    news = work / "news"
    for name in (
        "dvc.yaml",
        "params.yaml",
        "requirements.txt",
        "constraints.txt",
        "takedowns.csv",
        "README.md",
        ".gitignore",
        ".dvcignore",
        "CHANGELOG.md",
        "schemas/document.v2.json",
        ".git",
        ".dvc",
    ):
        assert (news / name).exists(), name
    assert "broadsheet==0.1.0" in (news / "requirements.txt").read_text()
    for n in range(1, 12):
        write(news / "corpus" / "raw", f"{n:03d}_{key(n)}.txt", article(n))
    out = sh(news, env, "dvc", "repro")
    assert "publish: 11 documents" in out
    sh(news, env, "git", "add", "-A")
    sh(news, env, "git", "commit", "-qm", "corpus")
    assert "didn't change" in sh(news, env, "dvc", "repro") and sh(news, env, "git", "status", "--porcelain") == ""
    pin = news / "requirements.txt"
    pin.write_text(pin.read_text().replace("broadsheet==0.1.0", "broadsheet==0.2.0"))  # an upgrade, pinned
    status = sh(news, env, "dvc", "status")
    assert all(f"{stage}:" in status for stage in ("normalize", "dedup", "publish")) and "requirements.txt" in status
    refused = subprocess.run(["dvc", "repro"], cwd=news, env=env, capture_output=True, text=True)
    assert (
        refused.returncode != 0
        and "pins broadsheet 0.2.0, but broadsheet 0.1.0 is installed" in refused.stdout + refused.stderr
        and "dvc checkout normalize restore what DVC removed" in refused.stdout + refused.stderr
    )


@pytest.mark.slow
def test_a_jsonl_corpus_made_with_init_builds_loads_and_accounts_for_every_line(installed):
    env, work = installed["env"], installed["work"]
    sh(work, env, "broadsheet", "init", "feeds", "--format", "jsonl")
    feeds = work / "feeds"
    params = feeds / "params.yaml"
    params.write_text(params.read_text().replace('    id: ""    ', "    id: url   "))
    lines = [
        json.dumps({"url": f"https://news.example/{n % 40}", "title": f"Headline {n}", "text": article(n)})
        for n in range(50)  # the last ten repeat a URL
    ]
    lines[3] = "{broken"
    lines[7] = json.dumps({"url": "https://news.example/x", "title": "No text"})
    lines[9] = json.dumps({"url": "https://news.example/de", "title": "Eine Überschrift", "text": GERMAN})
    write(feeds / "corpus" / "raw", "2024/export.jsonl.gz", gzip.compress("\n".join(lines).encode()))
    out = sh(feeds, env, "dvc", "repro")
    assert "normalize: 51 inputs: 41 documents, 9 rejected, 1 skipped" in out, out
    rejects = pq.read_table(feeds / "corpus" / "normalized" / "rejects.parquet").to_pylist()
    assert {r["reason"] for r in rejects} == {"bad_record", "missing_field", "duplicate_id", "not_a_document"}
    assert "2024/export.jsonl.gz:000000004" in {r["path"] for r in rejects}
    check = (
        "import datasets; d = datasets.load_from_disk('corpus/dataset'); e = datasets.load_dataset('corpus/dataset');"
        "print(sum(map(len, d.values())), sum(map(len, e.values())), sorted(set(d['train']['lang'])))"
    )
    loaded = sh(feeds, {**env, "HF_DATASETS_OFFLINE": "1"}, "python", "-c", check, stdout_only=True).split()
    assert loaded[:2] == ["41", "41"] and "de" in loaded[2]
    sh(feeds, env, "git", "add", "-A")
    sh(feeds, env, "git", "commit", "-qm", "corpus")
    assert "didn't change" in sh(feeds, env, "dvc", "repro") and sh(feeds, env, "git", "status", "--porcelain") == ""
