"""Writing outputs crash-safely and byte-deterministically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from broadsheet.core.errors import BroadsheetError, failing_as, reason


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty sibling folder; on success it replaces ``final`` by rename, on failure it is removed.

    A run killed at any point leaves the previous ``final`` whole, or (for the
    instant between two renames) no ``final`` at all; never a half-written one.
    """
    final = Path(final)
    partial = final.with_name(f".{final.name}.broadsheet-partial")
    old = final.with_name(f".{final.name}.broadsheet-old")
    with failing_as(f"cannot write output folder {final}"):
        final.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (partial, old):  # from a run that was killed
            if leftover.exists():
                shutil.rmtree(leftover)
        partial.mkdir()
    try:
        yield partial
        if final.exists():
            os.rename(final, old)
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_apart(out: str | Path, inputs: list[str | Path]) -> None:
    """Refuse an output folder that is, holds or sits inside an input: replacing it would destroy or re-read input."""
    out_real = Path(out).resolve()
    for item in inputs:
        real = Path(item).resolve()
        if out_real == real or out_real.is_relative_to(real) or real.is_relative_to(out_real):
            raise BroadsheetError(f"output folder {out} overlaps input {item}: choose a folder outside it")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dumps_json(obj, sort_keys: bool = True) -> str:
    """Canonical JSON text: sorted keys (unless the order means something), two-space indent, UTF-8, final newline."""
    return json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n"


def write_json(path: str | Path, obj, sort_keys: bool = True) -> None:
    Path(path).write_text(dumps_json(obj, sort_keys), encoding="utf-8")


def read_json(path: str | Path):
    """A JSON file's data; a one-line error when it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BroadsheetError(f"cannot read {path}: {reason(e)}") from None
