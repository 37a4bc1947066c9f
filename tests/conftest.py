"""Shared fixtures: the real seed article, a messy folder of small files written here, environments for subprocesses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers import SEED_PATH, article, make_project, sh, write


@pytest.fixture(scope="session")
def seed_bytes() -> bytes:
    return SEED_PATH.read_bytes()


@pytest.fixture(scope="session")
def seed_text(seed_bytes) -> str:
    return seed_bytes.decode("utf-8")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Each test its own broadsheet cache (and state of known hashes, ``core.state``): none in the home folder."""
    monkeypatch.setenv("BROADSHEET_CACHE", str(tmp_path / "bs-cache"))
    return tmp_path / "bs-cache"


def _cli_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _project_env(cache: Path) -> dict:
    return {
        **_cli_env(),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "DVC_NO_ANALYTICS": "1",
        "BROADSHEET_CACHE": str(cache),
    }


@pytest.fixture
def cli_env() -> dict:
    """Environment for subprocesses that must find this venv's broadsheet and dvc."""
    return _cli_env()


@pytest.fixture
def env(tmp_path):
    """cli_env plus a git identity and a private broadsheet cache, for real git + dvc projects."""
    return _project_env(tmp_path / "bs-cache")


@pytest.fixture(scope="session")
def built_project(tmp_path_factory):
    """``built_project(name, extra_docs, prepare)``: a project (``helpers.make_project``; ``prepare(root)`` then
    edits it) after ``dvc repro`` (its outputs not committed), built once a session for each name. Copy it, never
    change it: ``dvc repro`` is most of what a test that starts from a built project takes."""
    built: dict[str, Path] = {}

    def build(name: str, extra_docs: int = 40, prepare=None) -> Path:
        if name not in built:
            base = tmp_path_factory.mktemp(f"built-{name}")
            env = _project_env(base / "bs-cache")
            root = make_project(base / "project", env, extra_docs=extra_docs)
            if prepare is not None:
                prepare(root)
            sh(root, env, "dvc", "repro", "-q")
            built[name] = root
        return built[name]

    return build


@pytest.fixture
def messy(tmp_path, seed_bytes):
    src = tmp_path / "src"
    outside = write(tmp_path, "outside/secret.txt", "Secret\nDo not read me.")
    write(src, "000_812283e286aaf8e1.txt", seed_bytes)
    write(src, "a/001_00000000000000aa.txt", article(1))
    write(src, "b/001_00000000000000aa.txt", article(2))  # same name, other folder: same id
    write(src, "cp1252/002_00000000000000bb.txt", "Budget\nCosts rose to \u00a35m this year.".encode("cp1252"))
    write(src, "short.txt", "Short\nToo short.")
    write(src, "koi8.txt", "Новости\nМосква: Кремль подтвердил свою позицию по вопросу миротворцев.".encode("koi8-r"))
    write(src, "crlf.txt", article(3).replace("\n", "\r\n"))
    write(src, "empty.txt", b"")
    write(src, "blank.txt", " \n\n\t\n")
    write(src, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    write(src, "huge.txt", b"Huge\n" + b"x" * 5000)
    write(src, "notes.md", "not a document")
    write(src, ".DS_Store", b"\x00\x01")
    write(src, "deep/" + "/".join(f"d{i}" for i in range(30)) + "/003_00000000000000cc.txt", article(4))
    write(src, "ünïcödé/Ελληνικά – 文章.txt", article(5))
    (src / "bad-name").mkdir()
    (src / "bad-name" / os.fsdecode(b"caf\xe9.txt")).write_bytes(article(6).encode())
    os.symlink(outside, src / "escape.txt")
    os.symlink(src / "crlf.txt", src / "inside-link.txt")
    os.symlink(src / "a", src / "dir-link.txt")
    os.symlink(src / "missing.txt", src / "broken.txt")
    os.mkfifo(src / "pipe.txt")
    return src
