"""`broadsheet validate PATH`: check a published folder end to end, one line per problem.

Every Arrow and Parquet shard against ``schemas/``; the manifest against the
shards (same ids, splits and text hashes); the Parquet export against the
Arrow files; the sha256 of every file named in ``croissant.json``; the card's
YAML and its row counts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from broadsheet import schema
from broadsheet.output import sha256_file
from broadsheet.params import SPLITS


def _read(path: Path, problems: list[str]) -> pa.Table | None:
    try:
        if path.suffix == ".arrow":
            with pa.memory_map(str(path)) as source:
                return pa.ipc.open_stream(source).read_all()
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        problems.append(f"{path}: unreadable: {str(e).splitlines()[0]}")
        return None


def _check_schema(path: Path, table: pa.Table, expected: schema.Schema, problems: list[str]) -> None:
    try:
        expected.check(table)
    except Exception as e:  # BroadsheetError: schema mismatch or a null where none may be
        problems.append(f"{path}: {e}")


def _split_table(folder: Path, split: str, kind: str, problems: list[str]) -> pa.Table | None:
    """All rows of a split from its Arrow files (``kind='arrow'``) or its Parquet export, each file checked."""
    paths = sorted((folder / split).glob("data-*.arrow")) if kind == "arrow" else sorted((folder / "data").glob(f"{split}-*.parquet"))
    if not paths:
        problems.append(f"{folder}: no {kind} files for split {split}")
    tables = []
    for path in paths:
        table = _read(path, problems)
        if table is None:
            continue
        before = len(problems)
        _check_schema(path, table, schema.document(), problems)
        if len(problems) > before:
            continue
        texts, digests = table.column("text").to_pylist(), table.column("text_sha256").to_pylist()
        bad = sum(hashlib.sha256(t.encode("utf-8")).hexdigest() != d for t, d in zip(texts, digests))
        if bad:
            problems.append(f"{path}: {bad} text(s) do not match their text_sha256")
        tables.append(table.cast(schema.document().arrow))
    return pa.concat_tables(tables) if tables and len(tables) == len(paths) else None


def validate(folder: str | Path) -> list[str]:
    """The problems found in the published folder ``folder``; empty when it is sound."""
    folder = Path(folder)
    if not (folder / "dataset_dict.json").is_file():
        return [f"{folder}: not a published dataset (no dataset_dict.json)"]
    problems: list[str] = []
    rows: dict[str, list] = {}
    for split in SPLITS:
        arrow, parquet = (_split_table(folder, split, kind, problems) for kind in ("arrow", "parquet"))
        if arrow is not None and parquet is not None and not arrow.equals(parquet):
            problems.append(f"{folder}/data: the Parquet export of {split} differs from {split}/*.arrow")
        rows[split] = list(zip(arrow.column("id").to_pylist(), arrow.column("text_sha256").to_pylist())) if arrow else []

    listed = []
    for path in sorted((folder / "manifest").glob("part-*.parquet")):
        table = _read(path, problems)
        if table is not None:
            _check_schema(path, table, schema.manifest(), problems)
            if {"id", "split", "text_sha256"} <= set(table.column_names):
                listed += [(r["id"], r["split"], r["text_sha256"]) for r in table.select(["id", "split", "text_sha256"]).to_pylist()]
    present = [(doc_id, split, digest) for split, pairs in rows.items() for doc_id, digest in pairs]
    if sorted(listed) != sorted(present):
        problems.append(f"{folder}/manifest: lists {len(listed)} documents, the shards hold {len(present)} or differ in split or text")

    croissant = folder / "croissant.json"
    try:
        described = json.loads(croissant.read_text(encoding="utf-8"))
        for item in described.get("distribution", []):
            if item.get("@type") == "cr:FileObject":
                path = folder / item["contentUrl"]
                if not path.is_file():
                    problems.append(f"{croissant}: {item['contentUrl']} does not exist")
                elif sha256_file(path) != item.get("sha256"):
                    problems.append(f"{croissant}: sha256 of {item['contentUrl']} does not match the file")
    except (OSError, ValueError, KeyError) as e:
        problems.append(f"{croissant}: unreadable: {e}")

    card = folder / "README.md"
    try:
        front = yaml.safe_load(card.read_text(encoding="utf-8").split("---\n")[1])
        counts = {s["name"]: s["num_examples"] for s in front["dataset_info"]["splits"]}
        for split, pairs in rows.items():
            if counts.get(split) != len(pairs):
                problems.append(f"{card}: says {counts.get(split)} rows in {split}, the shards hold {len(pairs)}")
    except (OSError, IndexError, KeyError, TypeError, yaml.YAMLError) as e:
        problems.append(f"{card}: no valid YAML metadata: {type(e).__name__} {e}")
    return problems
