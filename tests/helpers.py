"""Helpers the tests share: the seed article's path, small files written here, settings, real git + DVC projects."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq

from broadsheet.core.params import ComputeParams, DedupParams, FilterParams, NormalizeParams, Params, PublishParams
from broadsheet.normalize import folder as normalize_folder

REPO = Path(__file__).resolve().parent.parent
SEED_NAME = "000_812283e286aaf8e1.txt"
SEED_PATH = REPO / "corpus" / "raw" / SEED_NAME
_SECTIONS = {NormalizeParams: "normalize", FilterParams: "filter", DedupParams: "dedup", PublishParams: "publish"}


def settings(*sections, workers: int = 0, engine: str = "local", drop: str | None = None) -> Params:
    """Params with the given sections (NormalizeParams(...), ...), the rest defaults; ``drop``: dedup.drop."""
    params = Params(**{_SECTIONS[type(s)]: s for s in sections}, compute=ComputeParams(engine=engine, workers=workers))
    if drop is not None:
        params = dataclasses.replace(params, dedup=dataclasses.replace(params.dedup, drop=drop))
    return params


def normalized_records(out: Path) -> list[dict]:
    """Every record of the normalize output ``out``, in source order (its shards' names are no order)."""
    return [row for path in normalize_folder.shards(out) for row in pq.read_table(path).to_pylist()]


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


def normalized_corpus(root: Path, count: int, shard_rows: int = 30) -> Path:
    """``count`` articles (``make_corpus``) under ``root/raw``, normalised in this process into ``root/n`` in
    shards of about ``shard_rows``; that folder."""
    from broadsheet import normalize

    make_corpus(root / "raw", count)
    normalize.run(
        [root / "raw"], root / "n", settings(NormalizeParams(shard_rows=shard_rows), workers=1), progress=False
    )
    return root / "n"


def tree_bytes(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "CHANGELOG.md",
    "takedowns.csv",
    "schemas",
    "src",
    ".gitignore",
    ".dvcignore",
]


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


def card_as_patterns(folder: Path) -> None:
    """The card's data files as a pattern, as versions before names by key wrote it."""
    card = folder / "README.md"
    text = card.read_text()
    for split in ("train", "validation", "test"):
        text = re.sub(rf"path:\n(    - data/{split}-[0-9a-f]+\.parquet\n)+", f"path: data/{split}-*.parquet\n", text)
    card.write_text(text)
    assert "path: data/train-*.parquet\n" in text
