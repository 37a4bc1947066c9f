"""Shared fixtures: the real seed article and small files written here."""

from __future__ import annotations

import hashlib
import os
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
