"""The dedup stage: exact and near-duplicate clusters of the normalised corpus, as decisions.

1. Exact: documents with the same ``text_sha256`` form a group; its first
   member in source order stands for it below.
2. Near: MinHash signatures of word n-grams of those representatives (in
   worker processes), LSH banding for candidate pairs, and the exact Jaccard
   similarity of every candidate pair (the workers read their shingle sets
   again), so no false positive is reported.
3. Clusters are the connected components of verified pairs plus exact groups.
   Each keeps its member first in source order (lowest ordinal, then path):
   a rule of the documents alone, so decisions do not depend on worker count,
   shard layout or the order files were found in.

The output is a table of decisions (format: ``folder``), not a copy of the corpus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from broadsheet import engines
from broadsheet.core import provenance
from broadsheet.core.display import counted
from broadsheet.core.files import atomic_dir, check_apart
from broadsheet.core.params import DedupParams, Params
from broadsheet.core.progress import Progress
from broadsheet.dedup import folder as layout
from broadsheet.dedup import minhash
from broadsheet.dedup.lsh import UnionFind, candidate_pairs, first_occurrence
from broadsheet.normalize import folder as normalized_folder

STAGE = "dedup"


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> minhash.Permutations:
    return minhash.Permutations.make(num_perm, seed)


def _band_key_task(task: tuple[str, np.ndarray, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """LSH band keys of some rows of one normalize shard, and which have words; the signatures themselves are not kept.

    The worker reads the texts from the shard itself: only the file's path and row numbers are sent to it.
    """
    path, rows, ngram, num_perm, seed, bands, band_rows = task
    signatures, has_words = minhash.signatures(_read_texts(path, rows), ngram, _permutations(num_perm, seed))
    return minhash.band_keys(signatures, bands, band_rows), has_words


def _shingle_task(task: tuple[str, np.ndarray, int]) -> list[np.ndarray]:
    """The shingle sets of some rows of one normalize shard, for the exact Jaccard check."""
    path, rows, ngram = task
    return minhash.shingle_sets(_read_texts(path, rows), ngram)


def _read_texts(path: str, rows: np.ndarray) -> pa.Array:
    texts = pq.read_table(path, columns=["text"]).column(0)
    if len(rows) < len(texts):
        texts = texts.take(pa.array(rows))
    return texts.combine_chunks()


def _file_rows(paths: list[Path], wanted: np.ndarray) -> Iterator[tuple[Path, np.ndarray, int]]:
    """(shard, row numbers within it, its first row's number) of the rows in ``wanted`` (a boolean mask over all
    rows), shard by shard."""
    offset = 0
    for path in paths:
        count = pq.ParquetFile(path).metadata.num_rows
        if len(rows := np.flatnonzero(wanted[offset : offset + count])):
            yield path, rows, offset
        offset += count


def _band_keys(ordered, paths: list[Path], reps: np.ndarray, params: DedupParams, progress: bool):
    """LSH band keys (rows x bands) of the rows in ``reps`` (a mask), in row order, computed by ``ordered`` (the
    workers), and which of them have words. Only the keys are kept, not the signatures."""
    count = int(reps.sum())
    keys = np.zeros((count, params.bands), np.uint64)
    has_words = np.zeros(count, bool)
    tasks = (
        (str(path), rows, params.ngram, params.num_perm, params.seed, params.bands, params.rows)
        for path, rows, _ in _file_rows(paths, reps)
    )
    filled = 0
    with Progress(STAGE, "doc", total=count, enabled=progress) as bar:
        for block_keys, block_words in ordered(_band_key_task, tasks):
            keys[filled : filled + len(block_keys)] = block_keys
            has_words[filled : filled + len(block_keys)] = block_words
            filled += len(block_keys)
            bar.update(len(block_keys))
    return keys, has_words


def _verified_pairs(
    ordered,
    paths: list[Path],
    n: int,
    rep_rows: np.ndarray,
    keys: np.ndarray,
    has_words: np.ndarray,
    params: DedupParams,
):
    """Candidate pairs from LSH whose exact Jaccard reaches the threshold, and the shingle sets that were read
    (by ``ordered``, the workers)."""
    rows = rep_rows[has_words]  # texts without words are never near duplicates
    pairs = sorted((int(rows[a]), int(rows[b])) for a, b in candidate_pairs(keys[has_words]))
    involved = np.zeros(n, bool)
    for a, b in pairs:
        involved[a] = involved[b] = True
    shards = list(_file_rows(paths, involved))
    sets: dict[int, np.ndarray] = {}
    tasks = ((str(path), rows, params.ngram) for path, rows, _ in shards)
    for (_, rows, offset), shard_sets in zip(shards, ordered(_shingle_task, tasks)):
        sets.update(zip((rows + offset).tolist(), shard_sets))
    verified = [(a, b) for a, b in pairs if minhash.jaccard(sets[a], sets[b]) >= params.threshold]
    return verified, sets, len(pairs)


def _decisions(
    ids: pa.Array, doc_paths: pa.Array, exact_rep: np.ndarray, clusters: UnionFind, sets: dict
) -> list[dict]:
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
                kind, similarity = "near", minhash.jaccard(sets[rep], sets[kept_rep])
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
    normalized: str | Path, out: str | Path, params: Params | None = None, *, progress: bool = True, force: bool = False
) -> dict:
    """Find duplicate clusters in the normalize output ``normalized``; write the decisions and metrics into ``out``
    (replaced only if broadsheet dedup wrote it, unless ``force``)."""
    params = params or Params()
    paths = normalized_folder.shards(normalized)
    check_apart(out, [normalized])
    with atomic_dir(out, layout.OWNER, force) as folder:
        decisions, metrics = _find(paths, params, progress)
        layout.write(folder, decisions, metrics, provenance.record(STAGE, params))
    return metrics


def _find(paths: list[Path], params: Params, progress: bool) -> tuple[list[dict], dict]:
    """The decisions (a row per member of a duplicate cluster) and the metrics of the normalized shards ``paths``."""
    with engines.pool(params.compute) as ordered:  # started first: the workers start while the columns are read
        ids, doc_paths, hashes = _columns(paths)
        exact_rep = first_occurrence(hashes)
        reps = exact_rep == np.arange(len(ids))
        keys, has_words = _band_keys(ordered, paths, reps, params.dedup, progress)
        verified, sets, candidates = _verified_pairs(
            ordered, paths, len(ids), np.flatnonzero(reps), keys, has_words, params.dedup
        )

    clusters = UnionFind()
    for a, b in verified:
        clusters.union(a, b)
    for row in np.flatnonzero(~reps):
        clusters.union(int(row), int(exact_rep[row]))
    decisions = _decisions(ids, doc_paths, exact_rep, clusters, sets)

    kinds = [d["kind"] for d in decisions]
    metrics = {
        "documents": len(ids),
        "clusters": kinds.count("kept"),
        "exact_duplicates": kinds.count("exact"),
        "near_duplicates": kinds.count("near"),
        "candidate_pairs": candidates,
        "verified_pairs": len(verified),
    }
    return decisions, metrics


def _columns(paths: list[Path]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The ids, source paths and text hashes of every row, in order, as Arrow arrays (smaller than Python lists)."""
    # ("source.path" reads as a column named path.)
    tables = [pq.read_table(p, columns=["id", "text_sha256", "source.path"]) for p in paths]

    def column(name: str) -> pa.Array:
        chunks = [chunk for table in tables for chunk in table.column(name).chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())

    return column("id"), column("path"), column("text_sha256")


def summary(metrics: dict) -> str:
    """The run in one line, for people."""
    return (
        f"dedup: {counted(metrics['documents'], 'document')}: {counted(metrics['clusters'], 'cluster')}, "
        f"{metrics['exact_duplicates']:,} exact and {metrics['near_duplicates']:,} near duplicates"
    )
