"""The dedup stage: exact and near-duplicate clusters of the normalised corpus, as decisions.

1. Exact: documents with the same ``text_sha256`` form a group; its first
   member in source order stands for it below.
2. Near: MinHash signatures of word n-grams of those representatives (in
   worker processes), LSH banding for candidate pairs, and the exact Jaccard
   similarity of every candidate pair, so no false positive is reported.
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

TEXT_BATCH_ROWS = 512


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> minhash.Permutations:
    return minhash.Permutations.make(num_perm, seed)


def _band_key_task(task: tuple[str, np.ndarray, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """LSH band keys of some rows of one normalize shard, and which have words; the signatures themselves are not kept.

    The worker reads the texts from the shard itself: only the file's path and row numbers are sent to it.
    """
    path, rows, ngram, num_perm, seed, bands, band_rows = task
    texts = pq.read_table(path, columns=["text"]).column(0).take(pa.array(rows)).combine_chunks()
    signatures, has_words = minhash.signatures(texts, ngram, _permutations(num_perm, seed))
    return minhash.band_keys(signatures, bands, band_rows), has_words


def _texts(paths: list[Path], wanted: np.ndarray) -> Iterator[tuple[np.ndarray, pa.Array]]:
    """(row numbers, texts) of the rows in ``wanted`` (a boolean mask over all rows), batch by batch."""
    offset = 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=TEXT_BATCH_ROWS, columns=["text"]):
            rows = np.flatnonzero(wanted[offset : offset + batch.num_rows])
            if len(rows):
                yield rows + offset, batch.column(0).take(pa.array(rows))
            offset += batch.num_rows


def _file_rows(paths: list[Path], wanted: np.ndarray) -> Iterator[tuple[Path, np.ndarray]]:
    """(shard, row numbers within it) of the rows in ``wanted`` (a boolean mask over all rows), shard by shard."""
    offset = 0
    for path in paths:
        count = pq.ParquetFile(path).metadata.num_rows
        if len(rows := np.flatnonzero(wanted[offset : offset + count])):
            yield path, rows
        offset += count


def _band_keys(paths: list[Path], reps: np.ndarray, params: Params, progress: bool):
    """LSH band keys (rows x bands) of the rows in ``reps`` (a mask), in row order, computed on the workers
    ``params.compute`` asks for, and which of them have words. Only the keys are kept, not the signatures."""
    count = int(reps.sum())
    compute, params = params.compute, params.dedup
    keys = np.zeros((count, params.bands), np.uint64)
    has_words = np.zeros(count, bool)
    tasks = (
        (str(path), rows, params.ngram, params.num_perm, params.seed, params.bands, params.rows)
        for path, rows in _file_rows(paths, reps)
    )
    filled = 0
    with Progress(STAGE, "doc", total=count, enabled=progress) as bar:
        for block_keys, block_words in engines.ordered_map(_band_key_task, tasks, compute):
            keys[filled : filled + len(block_keys)] = block_keys
            has_words[filled : filled + len(block_keys)] = block_words
            filled += len(block_keys)
            bar.update(len(block_keys))
    return keys, has_words


def _verified_pairs(
    paths: list[Path], n: int, rep_rows: np.ndarray, keys: np.ndarray, has_words: np.ndarray, params: DedupParams
):
    """Candidate pairs from LSH whose exact Jaccard reaches the threshold, and the shingle sets that were read."""
    rows = rep_rows[has_words]  # texts without words are never near duplicates
    pairs = sorted((int(rows[a]), int(rows[b])) for a, b in candidate_pairs(keys[has_words]))
    involved = np.zeros(n, bool)
    for a, b in pairs:
        involved[a] = involved[b] = True
    sets: dict[int, np.ndarray] = {}
    for batch_rows, texts in _texts(paths, involved):
        words, offsets = minhash.token_hashes(texts)
        for i, row in enumerate(batch_rows):
            sets[int(row)] = minhash.shingles(words[offsets[i] : offsets[i + 1]], params.ngram)
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
    ids, doc_paths, hashes = _columns(paths)
    exact_rep = first_occurrence(hashes)
    reps = exact_rep == np.arange(len(ids))
    keys, has_words = _band_keys(paths, reps, params, progress)
    verified, sets, candidates = _verified_pairs(paths, len(ids), np.flatnonzero(reps), keys, has_words, params.dedup)

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
