"""`broadsheet validate PATH`: check a published folder end to end, one line per problem.

Five checks, each on its own: every Arrow and Parquet shard against the schema
(and its texts against their hashes, and the two copies against each other);
the manifest against the shards; the sha256 of every file ``croissant.json``
names (never opening one outside the folder); the card's YAML, read as the
Hub reads it, and its row counts; and the folder opened by both of
``datasets``' loaders. A damaged or tampered folder gives problems, not errors.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import stat
import tempfile
from pathlib import Path

import pyarrow as pa

from broadsheet.core import schema, yamlfile
from broadsheet.core.errors import BroadsheetError, first_line, reason
from broadsheet.core.files import hash_stream, sha256_file
from broadsheet.core.params import SPLITS
from broadsheet.core.shards import read_parquet
from broadsheet.publish import layout, manifest

HASH_BATCH_ROWS = 1024
"""Texts turned into Python strings at a time, to check their hashes."""

Rows = dict[str, pa.Table]
"""Split -> the (id, text_sha256) of each of its rows, from the Arrow shards."""


def validate(folder: str | Path) -> list[str]:
    """The problems found in the published folder ``folder``; empty when it is sound."""
    folder = Path(folder)
    if not (folder / layout.DATASET_DICT).is_file():
        return [f"{folder}: not a published dataset (no {layout.DATASET_DICT})"]
    problems = check_entries(folder)
    if problems:
        return problems  # every check would read through them, or wait on them
    rows = check_shards(folder, problems)
    check_manifest(folder, rows, problems)
    check_croissant(folder, problems)
    check_card(folder, rows, problems)
    check_fingerprint(folder, rows, problems)
    check_loaders(folder, rows, problems)
    return problems


_DVC_OBJECT = re.compile(r"/files/md5/([0-9a-f]{2})/([0-9a-f]{30})\Z")
"""Where DVC 3 keeps a file of its cache, named by its bytes' md5: what `cache.type symlink` links an output's
files to."""


def cache_object(path: str | Path) -> bool:
    """Whether ``path`` is a symbolic link to a DVC cache object: a regular file whose path has the cache's shape
    and whose md5 is its name (a workspace DVC checked out as links)."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    shape = _DVC_OBJECT.search(target)
    return shape is not None and os.path.isfile(target) and _md5(target) == shape[1] + shape[2]


def _md5(path: str) -> str | None:
    """The md5 of a regular file's bytes (opened without waiting: a FIFO swapped in gives None, not a hang)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    with open(fd, "rb") as f:
        return hash_stream(f, "md5") if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else None


def check_entries(folder: Path) -> list[str]:
    """A published folder holds regular files and folders only: no symbolic link (what reads it would follow
    one anywhere) but those to DVC's cache, which is how DVC checks outputs out with ``cache.type symlink``;
    no FIFO or device (reading one would wait, or never end)."""
    found = []
    for parent, folders, files in os.walk(folder):
        for name in sorted(folders + files):
            path = os.path.join(parent, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError as e:  # gone since the folder was listed
                found.append(f"{path}: unreadable: {reason(e)}")
                continue
            if stat.S_ISLNK(mode) and not cache_object(path):
                found.append(f"{path} is a symbolic link: not followed, nothing else checked")
            elif not (stat.S_ISLNK(mode) or stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found.append(f"{path} is not a regular file (a FIFO, device or socket): nothing else checked")
    return found


def _read(path: Path, problems: list[str]) -> pa.Table | None:
    try:
        return layout.read_arrow(path, mapped=False) if path.suffix == ".arrow" else read_parquet(path)
    except (OSError, pa.ArrowException) as e:
        problems.append(f"{path}: unreadable: {str(e).splitlines()[0]}")
        return None


def _document_schema(table: pa.Table) -> schema.Schema:
    """The document schema a file says it holds, if this toolkit knows it (an older version's corpus is checked
    against the schema it was written with); else the one this toolkit writes."""
    named = (table.schema.metadata or {}).get(b"broadsheet.schema", b"").decode("utf-8", "replace")
    found = schema.named(named) if named.startswith("document.") else None
    return found or schema.document()


def _check_schema(path: Path, table: pa.Table, expected: schema.Schema, problems: list[str]) -> bool:
    try:
        expected.check(table)
    except BroadsheetError as e:  # a schema mismatch, or a null where none may be
        problems.append(f"{path}: {e}")
        return False
    return True


def _shard(path: Path, first: schema.Schema | None, problems: list[str]) -> pa.Table | None:
    """One shard of one copy of a split, checked (schema, the schema version of the split's first shard), in the
    Arrow types of its schema; None if it fails a check."""
    table = _read(path, problems)
    if table is None:
        return None
    doc = _document_schema(table)
    if not _check_schema(path, table, doc, problems):
        return None
    try:
        table.validate(full=True)  # a string that is not UTF-8, an offset out of bounds
    except pa.ArrowException as e:
        problems.append(f"{path}: invalid data: {str(e).splitlines()[0]}")
        return None
    if first is not None and doc.arrow != first.arrow:
        problems.append(f"{path}: holds {doc.name}.v{doc.version}, unlike the split's first shard")
        return None
    return table.cast(doc.arrow)


def _check_hashes(path: Path, table: pa.Table, problems: list[str]) -> None:
    bad = 0
    for batch in table.select(["text", "text_sha256"]).to_batches(max_chunksize=HASH_BATCH_ROWS):
        texts, digests = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        bad += sum(hashlib.sha256(t.encode("utf-8")).hexdigest() != d for t, d in zip(texts, digests))
    if bad:
        problems.append(f"{path}: {bad} text(s) do not match their text_sha256")


def _check_split(folder: Path, split: str, problems: list[str]) -> pa.Table:
    """Both copies of one split, shard by shard (one pair of shards in memory at a time): schema, text hashes,
    and the Parquet export equal to the Arrow files. The (id, text_sha256) rows of its Arrow shards."""
    arrows, parquets = sorted((folder / split).glob("data-*.arrow")), sorted(folder.glob(layout.export_pattern(split)))
    for paths, kind in ((arrows, "arrow"), (parquets, "parquet")):
        if not paths:
            problems.append(f"{folder}: no {kind} files for split {split}")
    _check_state(folder / split / layout.STATE, arrows, problems)
    differs = len(arrows) != len(parquets)
    first: schema.Schema | None = None
    pairs = []
    for arrow_path, parquet_path in itertools.zip_longest(arrows, parquets):
        arrow = _shard(arrow_path, first, problems) if arrow_path else None
        if arrow is not None:
            first = first or _document_schema(arrow)
            _check_hashes(arrow_path, arrow, problems)  # before the Parquet copy is read: one copy's texts at a time
            pairs.append(_copied(arrow, PAIRS))
        parquet = _shard(parquet_path, first, problems) if parquet_path else None
        if parquet is not None and (arrow is None or not arrow.equals(parquet)):
            differs = differs or arrow is not None
            _check_hashes(parquet_path, parquet, problems)  # equal to the Arrow shard, it holds the same hashes
    if differs and arrows and parquets:
        problems.append(f"{folder / layout.EXPORT}: the Parquet export of {split} differs from {split}/*.arrow")
    return pa.concat_tables(pairs) if pairs else PAIRS.empty_table()


def _check_state(state: Path, arrows: list[Path], problems: list[str]) -> None:
    """A split's state.json names its own Arrow files, each once, and no other: they are what ``load_from_disk``
    opens (``arrows``: the split's, by name); in the order publish wrote them, which its ``_fingerprint`` holds."""
    try:
        found = json.loads(state.read_text(encoding="utf-8"))
        named = [entry["filename"] for entry in found["_data_files"]]
    except (OSError, ValueError, RecursionError, KeyError, TypeError) as e:
        problems.append(f"{state}: unreadable: {type(e).__name__}: {str(e)[:200]}")
        return
    if sorted(named, key=str) != [path.name for path in arrows] or len(set(map(str, named))) != len(named):
        problems.append(f"{state}: names {str(named)[:200]}, not the split's Arrow files")
        return
    try:
        fingerprint = layout.split_fingerprint([sha256_file(state.parent / name) for name in named])
    except OSError as e:
        problems.append(f"{state}: its Arrow files cannot be read: {reason(e)}")
        return
    if found.get("_fingerprint") != fingerprint:
        problems.append(f"{state}: its _fingerprint is not that of its Arrow files in this order (reordered?)")


PAIRS = pa.schema([("id", pa.string()), ("text_sha256", pa.string())])


def _copied(table: pa.Table, columns: pa.Schema) -> pa.Table:
    """Some columns of ``table`` in buffers of their own: a column read from a file is a slice of the buffer
    that holds every column, so keeping it would keep the whole shard."""
    chunked = [table.column(f.name).chunks for f in columns]
    arrays = [pa.concat_arrays(chunks) if chunks else pa.array([], f.type) for chunks, f in zip(chunked, columns)]
    return pa.table(arrays, schema=columns)


def check_shards(folder: Path, problems: list[str]) -> Rows:
    """Every split's two copies (see ``_check_split``)."""
    return {split: _check_split(folder, split, problems) for split in SPLITS}


def check_manifest(folder: Path, rows: Rows, problems: list[str]) -> None:
    """The manifest lists exactly the documents of the shards, with their splits and text hashes."""
    columns = ["id", "split", "text_sha256"]
    plain = pa.schema([(c, pa.string()) for c in columns])  # what is compared: values, not nullability or metadata
    listed = []
    for path in layout.manifest_files(folder):
        table = _read(path, problems)
        if table is not None and _check_schema(path, table, schema.manifest(), problems):
            listed.append(table.select(columns).cast(plain))
    present = [
        pairs.append_column("split", pa.array([split] * pairs.num_rows, pa.string())).select(columns).cast(plain)
        for split, pairs in rows.items()
    ]
    order = [(c, "ascending") for c in columns]
    listed_rows = pa.concat_tables(listed).sort_by(order) if listed else None
    present_rows = pa.concat_tables(present).sort_by(order)
    if listed_rows is None or not listed_rows.equals(present_rows):
        count = listed_rows.num_rows if listed_rows is not None else 0
        problems.append(
            f"{folder / layout.MANIFEST}: lists {count} documents, "
            f"the shards hold {present_rows.num_rows} or differ in split or text"
        )


def check_croissant(folder: Path, problems: list[str]) -> None:
    """Every file ``croissant.json`` describes is inside the folder, exists and has the sha256 it states
    (in a folder ``check_entries`` found sound)."""
    croissant = folder / layout.CROISSANT
    try:
        described = json.loads(croissant.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        problems.append(f"{croissant}: unreadable: {str(e)[:200]}")
        return
    distribution = described.get("distribution") if isinstance(described, dict) else None
    if not isinstance(distribution, list):
        problems.append(f"{croissant}: not a Croissant description (no distribution list)")
        return
    inside = folder.resolve()
    for item in distribution:
        if not isinstance(item, dict) or item.get("@type") != "cr:FileObject":
            continue
        url = item.get("contentUrl")
        if not isinstance(url, str) or not url:
            problems.append(f"{croissant}: a FileObject without a contentUrl: {str(item)[:100]}")
            continue
        path = folder / url
        try:
            # a link here is one to a DVC cache object (check_entries runs first): where it is, is its folder
            where = path.parent.resolve() if os.path.islink(path) else path.resolve()
            outside = Path(url).is_absolute() or not where.is_relative_to(inside)
        except (OSError, ValueError, RuntimeError):  # a NUL byte, a name too long, a loop of links
            outside = True
        if outside:
            problems.append(f"{croissant}: {url} is outside the published folder (not opened)")
            continue
        try:
            if not path.is_file():
                problems.append(f"{croissant}: {url} does not exist")
            elif sha256_file(path) != item.get("sha256"):
                problems.append(f"{croissant}: sha256 of {url} does not match the file")
        except OSError as e:
            problems.append(f"{croissant}: {url} unreadable: {reason(e)}")


def check_card(folder: Path, rows: Rows, problems: list[str]) -> None:
    """The card has YAML metadata, as ``huggingface_hub`` reads it, whose row counts are the shards'."""
    from huggingface_hub import DatasetCard
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    card = folder / layout.CARD
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{card}: unreadable: {str(e)[:200]}")
        return
    match = REGEX_YAML_BLOCK.search(text)
    if match is None:
        problems.append(f"{card}: no YAML metadata block")
        return
    try:
        front = yamlfile.parse(match.group(2), str(card))  # ours first: a tampered card may hold a YAML bomb
        DatasetCard(text)
        counts = {s["name"]: s["num_examples"] for s in front["dataset_info"].get("splits", [])}
    except BroadsheetError as e:
        problems.append(str(e))
        return
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        problems.append(f"{card}: no valid YAML metadata: {type(e).__name__} {str(e)[:200]}")
        return
    try:
        files = layout.data_files(folder)
    except BroadsheetError:
        files = None  # state.json names other files: check_shards said so
    if files is not None and not _lists(front.get("configs", []), files, {s: t.num_rows for s, t in rows.items()}):
        problems.append(f"{card}: its configs name other data files than each split's Parquet files, in order")
    for split, pairs in rows.items():  # an empty split is left out of the card (see card.front_matter)
        if counts.get(split, 0) != pairs.num_rows:
            problems.append(f"{card}: says {counts.get(split, 0)} rows in {split}, the shards hold {pairs.num_rows}")


def _lists(configs, files: dict[str, list[str]], rows: dict[str, int]) -> bool:
    """The card's ``configs`` lead ``load_dataset`` to each split's ``files`` in order, as they are listed, or by
    a pattern where the names sort in that order (the positional names of earlier versions)."""
    listed = layout.hub_data_files(files, rows)
    accepted = [listed]
    if all(sorted(entry["path"]) == entry["path"] for entry in listed):
        accepted.append([{**entry, "path": layout.export_pattern(entry["split"])} for entry in listed])
    return any(configs == ([{"config_name": "default", "data_files": d}] if d else []) for d in accepted)


def check_fingerprint(folder: Path, rows: Rows, problems: list[str]) -> None:
    """The corpus fingerprints metrics.json and croissant.json state are the ones the shards give."""
    found = {"all": manifest.fingerprint(pa.concat_tables(rows.values()))}
    found |= {split: manifest.fingerprint(pairs) for split, pairs in rows.items()}
    try:
        stated = json.loads((folder / layout.METRICS).read_text(encoding="utf-8")).get("fingerprint")
        identifier = json.loads((folder / layout.CROISSANT).read_text(encoding="utf-8")).get("identifier")
    except (OSError, ValueError, AttributeError, RecursionError):
        return  # the unreadable file is check_croissant's problem, or the folder predates fingerprints
    if stated is not None and stated != found:
        problems.append(f"{folder / layout.METRICS}: its fingerprint is not the shards' ({found['all']})")
    if identifier is not None and identifier != found["all"]:
        problems.append(f"{folder / layout.CROISSANT}: its identifier is not the shards' fingerprint ({found['all']})")


def check_loaders(folder: Path, rows: Rows, problems: list[str]) -> None:
    """``load_from_disk`` opens every split with its rows; ``load_dataset`` opens every split that has rows
    (it cannot load a split of none) and reads its first record. Streamed: nothing is copied or held whole."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
        for split in SPLITS:
            if loaded[split].num_rows != rows[split].num_rows:
                problems.append(f"{folder}: load_from_disk gives {loaded[split].num_rows} rows in {split}")
    except Exception as e:  # noqa: BLE001 - whatever stops datasets from opening the folder is the problem reported
        problems.append(f"{folder}: load_from_disk cannot open it: {type(e).__name__}: {first_line(e)}")
    filled = [split for split in SPLITS if rows[split].num_rows]
    if not filled:
        return
    try:
        with tempfile.TemporaryDirectory() as cache:
            streamed = datasets.load_dataset(str(folder), streaming=True, cache_dir=cache)
            if sorted(streamed) != sorted(filled):
                problems.append(f"{folder}: load_dataset gives the splits {sorted(streamed)}, not {sorted(filled)}")
            for split in filled:
                next(iter(streamed[split]))
    except Exception as e:  # noqa: BLE001 - as above
        problems.append(f"{folder}: load_dataset cannot open it: {type(e).__name__}: {first_line(e)}")
