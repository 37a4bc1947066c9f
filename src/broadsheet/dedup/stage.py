"""The dedup stage: exact and near-duplicate clusters of the normalised corpus, as decisions.

1. Exact: documents with the same ``text_sha256`` form a group; its first
   member in source order stands for it below.
2. Near: LSH band keys of MinHash signatures of word n-grams, per normalize
   shard (each distinct text of a shard once, in worker processes), banding of
   the representatives' keys for candidate pairs, and the exact Jaccard
   similarity of every candidate pair (the workers read their shingle sets
   again), so no false positive is reported. Band keys and similarities of
   texts the previous output holds are taken from it (``reuse``).
3. Clusters are the connected components of verified pairs plus exact groups.
   Each keeps its member first in source order (lowest ordinal, then path):
   a rule of the documents alone, so decisions do not depend on worker count,
   shard layout or the order files were found in.

The output is a table of decisions (format: ``folder``), not a copy of the corpus.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from broadsheet import engines
from broadsheet.core import provenance
from broadsheet.core.display import counted
from broadsheet.core.files import atomic_dir, check_apart, keep
from broadsheet.core.params import DedupParams, Params
from broadsheet.core.progress import Progress
from broadsheet.dedup import folder as layout
from broadsheet.dedup import minhash, reuse
from broadsheet.dedup.lsh import UnionFind, candidate_pairs, first_occurrence
from broadsheet.normalize import folder as normalized_folder

STAGE = "dedup"
INLINE_ROWS = 5000
"""Fewer texts than this to hash are hashed in this process: starting the workers would take longer."""


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> minhash.Permutations:
    return minhash.Permutations.make(num_perm, seed)


@dataclass(frozen=True)
class _Shard:
    """A normalize shard as dedup sees it."""

    path: Path
    rows: int
    offset: int
    """The number of its first row among all rows."""
    texts: str
    """reuse.texts_digest of its text hashes."""


def _band_key_task(task: tuple[str, np.ndarray, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """LSH band keys of some rows of one normalize shard, and which of them have words; a text repeated among them
    is hashed once, and the signatures themselves are not kept.

    The worker reads the texts from the shard itself: only the file's path and row numbers are sent to it.
    """
    path, rows, ngram, num_perm, seed, bands, band_rows = task
    table = normalized_folder.read(path, ["text", "text_sha256"])
    if len(rows) < table.num_rows:
        table = table.take(pa.array(rows))
    first = first_occurrence(table.column("text_sha256").combine_chunks())
    unique = np.flatnonzero(first == np.arange(len(first)))
    texts = table.column("text").combine_chunks()
    if len(unique) < len(first):
        texts = texts.take(pa.array(unique))
    signatures, has_words = minhash.signatures(texts, ngram, _permutations(num_perm, seed))
    where = np.searchsorted(unique, first)
    return minhash.band_keys(signatures, bands, band_rows)[where], has_words[where]


def _shingle_task(task: tuple[str, np.ndarray, int]) -> list[np.ndarray]:
    """The shingle sets of some rows of one normalize shard, for the exact Jaccard check."""
    path, rows, ngram = task
    texts = normalized_folder.read(path, ["text"]).column(0)
    if len(rows) < len(texts):
        texts = texts.take(pa.array(rows))
    return minhash.shingle_sets(texts.combine_chunks(), ngram)


def _run(ordered, rows: int):
    """``ordered`` (the workers), or ``map`` in this process for work of few rows; the results are the same."""
    return map if rows < INLINE_ROWS else ordered


def _band_keys(
    ordered, shards: list[_Shard], hashes: pa.Array, previous: reuse.Previous, folder: Path, params: DedupParams, bar
):
    """The LSH band keys (rows x bands) of every row, which rows have words, and each shard's key file's row of
    the index (``folder.write_index``).

    A shard of the same texts as one of the previous output takes that shard's; a row of another shard takes those
    of its text where a previous shard no unchanged one took held it; the rest are computed by ``ordered`` (the
    workers). Each shard's go into ``folder`` as they come.
    """
    count = sum(shard.rows for shard in shards)
    keys = np.zeros((count, params.bands), np.uint64)
    has_words = np.zeros(count, bool)
    (folder / layout.KEYS).mkdir()
    index_rows: dict[int, dict] = {}
    changed, taken_files = [], set()
    for index, shard in enumerate(shards):
        found = previous.keys.get(shard.texts)
        taken = _taken(found, hashes.slice(shard.offset, shard.rows), params.bands) if found else None
        if taken is None:
            changed.append(index)
            continue
        rows = slice(shard.offset, shard.offset + shard.rows)
        keys[rows], has_words[rows] = taken
        try:
            keep(found.path, layout.key_path(folder, shard.path))
        except OSError:  # it was there a moment ago: write what was read from it
            changed.append(index)
            continue
        index_rows[index] = _index_row(shard, found.sha256)
        taken_files.add(found)
        bar.update(shard.rows)
    known = _keys_by_text([file for file in previous.key_files if file not in taken_files], params.bands)
    computed = []
    for index in sorted(changed):
        shard = shards[index]
        missing = []
        for row, text in enumerate(hashes.slice(shard.offset, shard.rows).to_pylist()):
            if (where := known.get(text)) is None:
                missing.append(row)
            else:
                keys[shard.offset + row], has_words[shard.offset + row] = where
        computed.append((index, np.array(missing, np.int64)))
    arguments = (params.ngram, params.num_perm, params.seed, params.bands, params.rows)
    tasks = ((str(shards[index].path), missing, *arguments) for index, missing in computed if len(missing))
    results = _run(ordered, sum(len(missing) for _, missing in computed))(_band_key_task, tasks)
    for index, missing in computed:
        shard = shards[index]
        if len(missing):
            keys[shard.offset + missing], has_words[shard.offset + missing] = next(results)
        rows = slice(shard.offset, shard.offset + shard.rows)
        texts = hashes.slice(shard.offset, shard.rows)
        index_rows[index] = _index_row(shard, layout.write_keys(folder, shard.path, texts, keys[rows], has_words[rows]))
        bar.update(shard.rows)
    return keys, has_words, [index_rows[index] for index in range(len(shards))]


def _taken(found: reuse.KeyFile, texts: pa.Array, bands: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The keys and words flags of a previous key file, if it is what its index says and is of the texts
    ``texts`` (the shard's hashes, in order)."""
    data = found.read()
    read = layout.read_keys(data, bands) if data is not None else None
    if read is None or not read[0].equals(texts):
        return None
    return read[1], read[2]


def _index_row(shard: _Shard, sha256: str) -> dict:
    return {"file": layout.key_path(Path(), shard.path).as_posix(), "texts": shard.texts, "sha256": sha256}


def _keys_by_text(files: list[reuse.KeyFile], bands: int) -> dict[str, tuple[np.ndarray, bool]]:
    """Text hash -> (band keys, has words) of every row of the previous key files ``files`` that are what their
    index says."""
    found = {}
    for file in files:
        data = file.read()
        if data is not None and (read := layout.read_keys(data, bands)) is not None:
            texts, keys, words = read
            found.update(zip(texts.to_pylist(), zip(keys, words.tolist())))
    return found


def _similarities(ordered, shards: list[_Shard], hashes: pa.Array, pairs, known: dict, ngram: int) -> dict:
    """The Jaccard similarity of each pair of rows (a < b): ``known`` (by the texts' hashes) where it is there,
    else computed from the shingle sets the workers read of the rows it lacks."""
    found, missing = {}, []
    for a, b in pairs:
        if (similarity := known.get(_text_pair(hashes, a, b))) is not None:
            found[a, b] = similarity
        else:
            missing.append((a, b))
    sets: dict[int, np.ndarray] = {}
    if missing:
        wanted = np.unique(np.array(missing, np.int64))
        shard_of = np.searchsorted([shard.offset for shard in shards], wanted, side="right") - 1
        cuts = np.flatnonzero(np.diff(shard_of)) + 1
        groups = [(shards[i], rows) for i, rows in zip(shard_of[np.r_[0, cuts]], np.split(wanted, cuts))]
        tasks = ((str(shard.path), rows - shard.offset, ngram) for shard, rows in groups)
        for (_, rows), shard_sets in zip(groups, _run(ordered, len(wanted))(_shingle_task, tasks)):
            sets.update(zip(rows.tolist(), shard_sets))
    found.update({(a, b): minhash.jaccard(sets[a], sets[b]) for a, b in missing})
    return found


def _text_pair(hashes: pa.Array, a: int, b: int) -> tuple[str, str]:
    """The hashes of rows ``a`` and ``b``, in order: a pair of texts as ``pairs.parquet`` names it."""
    first, second = hashes[a].as_py(), hashes[b].as_py()
    return (first, second) if first <= second else (second, first)


def _near_pairs(clusters: UnionFind, exact_rep: np.ndarray) -> set[tuple[int, int]]:
    """(representative, its cluster's kept representative), in order, of every near member of a cluster."""
    pairs = set()
    for row in clusters.parent:
        rep, kept_rep = int(exact_rep[row]), int(exact_rep[clusters.find(row)])
        if rep != kept_rep:
            pairs.add((min(rep, kept_rep), max(rep, kept_rep)))
    return pairs


def _decisions(ids: pa.Array, doc_paths: pa.Array, exact_rep: np.ndarray, clusters: UnionFind, similar: dict):
    members: dict[int, list[int]] = defaultdict(list)
    for row in clusters.parent:
        members[clusters.find(row)].append(row)
    decisions = []
    for kept in sorted(members):
        kept_rep = int(exact_rep[kept])
        for row in sorted({kept, *members[kept]}):
            rep = int(exact_rep[row])
            if row == kept:
                kind, similarity = "kept", 1.0
            elif rep == kept_rep:
                kind, similarity = "exact", 1.0
            else:
                kind, similarity = "near", similar[min(rep, kept_rep), max(rep, kept_rep)]
            decisions.append(
                {
                    "cluster": ids[kept].as_py(),
                    "id": ids[row].as_py(),
                    "path": doc_paths[row].as_py(),
                    "kind": kind,
                    "similarity": similarity,
                }
            )
    return decisions


def run(
    normalized: str | Path,
    out: str | Path,
    params: Params | None = None,
    *,
    progress: bool = True,
    fresh: bool = False,
    force: bool = False,
) -> dict:
    """Find duplicate clusters in the normalize output ``normalized``; write the decisions and metrics into ``out``
    (replaced only if broadsheet dedup wrote it, unless ``force``). The band keys and similarities the previous
    ``out`` holds are taken from it where their texts did not change, unless ``fresh``."""
    params = params or Params()
    paths = normalized_folder.shards(normalized)
    check_apart(out, [normalized])
    previous = reuse.Previous(None if fresh else out, reuse.fingerprint(params.dedup))
    with atomic_dir(out, layout.OWNER, force) as folder:
        decisions, metrics = _find(paths, params, previous, folder, progress)
        layout.write(folder, decisions, metrics, provenance.record(STAGE, params))
    return metrics


def _find(paths: list[Path], params: Params, previous: reuse.Previous, folder: Path, progress: bool):
    """The decisions (a row per member of a duplicate cluster) and the metrics of the normalized shards ``paths``;
    the band keys and the similarities compared go into ``folder`` for the next run."""
    dedup = params.dedup
    # A first run starts the workers first, to import while the columns are read; a later one may need none.
    # The tasks' time is in compiled loops and Arrow, which release the GIL: local workers are threads; the loops
    # are loaded before the threads start (minhash.load).
    minhash.load()
    with engines.pool(params.compute, eager=not previous.key_files, threads=True) as ordered:
        shards, ids, doc_paths, hashes = _columns(paths)
        exact_rep = first_occurrence(hashes)
        with Progress(STAGE, "doc", total=len(ids), enabled=progress) as bar:
            keys, has_words, key_index = _band_keys(ordered, shards, hashes, previous, folder, dedup, bar)
        rows = np.flatnonzero((exact_rep == np.arange(len(ids))) & has_words)  # texts without words are never near
        pairs = sorted((int(rows[a]), int(rows[b])) for a, b in candidate_pairs(keys, rows))
        del keys
        similar = _similarities(ordered, shards, hashes, pairs, previous.similarities, dedup.ngram)
        verified = [pair for pair in pairs if similar[pair] >= dedup.threshold]
        clusters = UnionFind()
        for a, b in verified:
            clusters.union(a, b)
        for row in np.flatnonzero(exact_rep != np.arange(len(ids))):
            clusters.union(int(row), int(exact_rep[row]))
        near = sorted(_near_pairs(clusters, exact_rep) - similar.keys())
        similar.update(_similarities(ordered, shards, hashes, near, previous.similarities, dedup.ngram))
    decisions = _decisions(ids, doc_paths, exact_rep, clusters, similar)
    pairs_sha256 = layout.write_pairs(folder, {_text_pair(hashes, a, b): s for (a, b), s in similar.items()})
    layout.write_index(folder, previous.fingerprint, key_index, pairs_sha256)

    kinds = [d["kind"] for d in decisions]
    metrics = {
        "documents": len(ids),
        "clusters": kinds.count("kept"),
        "exact_duplicates": kinds.count("exact"),
        "near_duplicates": kinds.count("near"),
        "candidate_pairs": len(pairs),
        "verified_pairs": len(verified),
    }
    return decisions, metrics


def _columns(paths: list[Path]) -> tuple[list[_Shard], pa.Array, pa.Array, pa.Array]:
    """The shards, and the ids, source paths and text hashes of every row in order, as Arrow arrays (smaller than
    Python lists)."""

    def light(path: Path) -> pa.Table:
        return normalized_folder.read(path, ["id", "text_sha256", "source.path"]).flatten()

    with ThreadPoolExecutor(engines.default_workers()) as pool:  # Arrow reads without the GIL
        tables = list(pool.map(light, paths))
    shards, offset = [], 0
    for path, table in zip(paths, tables):
        shards.append(_Shard(path, table.num_rows, offset, reuse.texts_digest(table.column("text_sha256"))))
        offset += table.num_rows

    def column(name: str) -> pa.Array:
        chunks = [chunk for table in tables for chunk in table.column(name).chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())

    return shards, column("id"), column("source.path"), column("text_sha256")


def summary(metrics: dict) -> str:
    """The run in one line, for people."""
    return (
        f"dedup: {counted(metrics['documents'], 'document')}: {counted(metrics['clusters'], 'cluster')}, "
        f"{metrics['exact_duplicates']:,} exact and {metrics['near_duplicates']:,} near duplicates"
    )
