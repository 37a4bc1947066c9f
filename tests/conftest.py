"""Shared fixtures: the real seed article and small files written here."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEED_NAME = "000_812283e286aaf8e1.txt"
SEED_PATH = REPO / "corpus" / "raw" / SEED_NAME


@pytest.fixture(scope="session")
def seed_bytes() -> bytes:
    return SEED_PATH.read_bytes()


@pytest.fixture(scope="session")
def seed_text(seed_bytes) -> str:
    return seed_bytes.decode("utf-8")


def write(root: Path, relpath: str, content: bytes | str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def article(n: int, words: int = 60) -> str:
    """A small seed-shaped article whose text is unique to ``n``."""
    body = " ".join(f"w{n}x{i}" for i in range(words))
    return f"Headline number {n}\nLONDON: {body}.\nSecond paragraph of {n}.\n-\nRelated one -\nRelated two"


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:16]


def make_corpus(root: Path, count: int, start: int = 0) -> list[Path]:
    """``count`` keyed articles NNN_<key>.txt under ``root``."""
    return [write(root, f"{n:06d}_{key(n)}.txt", article(n)) for n in range(start, start + count)]


def tree_bytes(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def cli_env() -> dict:
    """Environment for subprocesses that must find this venv's broadsheet and dvc."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def env(cli_env, tmp_path):
    """cli_env plus a git identity and a private broadsheet cache, for real git + dvc projects."""
    cli_env.update(
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid", DVC_NO_ANALYTICS="1", BROADSHEET_CACHE=str(tmp_path / "bs-cache"),
    )
    return cli_env


PROJECT_FILES = ["dvc.yaml", "params.yaml", "CHANGELOG.md", "schemas", "src", ".gitignore", ".dvcignore"]


def sh(cwd: Path, env: dict, *cmd: str, stdout_only: bool = False) -> str:
    """Run ``cmd``; fail the test unless it succeeds; its output (stdout and stderr unless ``stdout_only``)."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout if stdout_only else result.stdout + result.stderr


def make_project(root: Path, env: dict, extra_docs: int = 40) -> Path:
    """A fresh git + DVC project holding this repo's pipeline, the seed and ``extra_docs`` articles."""
    root.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(src, root / name)
    raw = root / "corpus" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(SEED_PATH, raw / SEED_PATH.name)
    make_corpus(raw, extra_docs, start=1)
    sh(root, env, "git", "init", "-q", "-b", "main")
    sh(root, env, "dvc", "init", "-q")
    sh(root, env, "dvc", "config", "core.analytics", "false")
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", "project")
    return root


def repro(root: Path, env: dict) -> str:
    return sh(root, env, "dvc", "repro")


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
