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

The output is a table of decisions (``duplicates.parquet``), not a copy of the corpus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from broadsheet import ingest, minhash, schema
from broadsheet.errors import BroadsheetError
from broadsheet.output import atomic_dir, check_apart, write_json
from broadsheet.parallel import default_workers, ordered_map
from broadsheet.params import DedupParams
from broadsheet.shards import PARQUET_OPTIONS

TEXT_BATCH_ROWS = 512
LARGE_BUCKET = 64
"""LSH buckets larger than this are verified against their first member and neighbours, not all pairs."""


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> minhash.Permutations:
    return minhash.Permutations.make(num_perm, seed)


def _band_key_task(task: tuple[str, np.ndarray, int, int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """LSH band keys of some rows of one normalize shard, and which have words; the signatures themselves are not kept.

    The worker reads the texts from the shard itself: only the file's path and row numbers are sent to it.
    """
    path, rows, ngram, num_perm, seed, bands, band_rows = task
    texts = pq.read_table(path, columns=["text"]).column(0).take(pa.array(rows)).combine_chunks()
    signatures, sizes = minhash.signatures(texts, ngram, _permutations(num_perm, seed))
    return minhash.band_keys(signatures, bands, band_rows), sizes > 0


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


class UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is always the member first in source order


def candidate_pairs(keys: np.ndarray) -> set[tuple[int, int]]:
    """Pairs of rows (i < j) that share an LSH bucket in some band."""
    pairs: set[tuple[int, int]] = set()
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
        ends = np.concatenate([starts[1:], [len(order)]])
        for start, end in zip(starts, ends):
            if end - start < 2:
                continue
            members = np.sort(order[start:end]).tolist()
            if len(members) <= LARGE_BUCKET:
                pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
            else:
                pairs.update((members[0], b) for b in members[1:])
                pairs.update(zip(members, members[1:]))
    return pairs


def _band_keys(paths: list[Path], reps: np.ndarray, params: DedupParams, workers: int, progress: bool, engine: str):
    """LSH band keys (rows x bands) of the rows in ``reps`` (a mask), in row order, computed on ``workers``
    processes of ``engine``, and which of them have words. Only the keys are kept: 128 bytes a document, not 512."""
    from tqdm.auto import tqdm

    count = int(reps.sum())
    keys = np.zeros((count, params.bands), np.uint64)
    has_words = np.zeros(count, bool)
    tasks = ((str(path), rows, params.ngram, params.num_perm, params.seed, params.bands, params.rows) for path, rows in _file_rows(paths, reps))
    filled = 0
    with tqdm(total=count, unit="doc", desc="dedup", disable=None if progress else True) as bar:
        for block_keys, block_words in ordered_map(_band_key_task, tasks, workers, engine=engine):
            keys[filled : filled + len(block_keys)] = block_keys
            has_words[filled : filled + len(block_keys)] = block_words
            filled += len(block_keys)
            bar.update(len(block_keys))
    return keys, has_words


def _verified_pairs(paths: list[Path], n: int, rep_rows: np.ndarray, keys: np.ndarray, has_words: np.ndarray, params: DedupParams):
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


def first_occurrence(values: pa.Array) -> np.ndarray:
    """For each row, the first row holding the same value."""
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    first = np.full(len(encoded.dictionary), len(values), np.int64)
    np.minimum.at(first, codes, np.arange(len(values), dtype=np.int64))
    return first[codes]


def _decisions(ids: pa.Array, doc_paths: pa.Array, exact_rep: np.ndarray, clusters: UnionFind, sets: dict) -> list[dict]:
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
                {"cluster": ids[kept].as_py(), "id": ids[row].as_py(), "path": doc_paths[row].as_py(), "kind": kind, "similarity": similarity}
            )
    return decisions


def run(
    normalized: str | Path,
    out: str | Path,
    params: DedupParams | None = None,
    workers: int | None = None,
    progress: bool = True,
    engine: str = "local",
) -> dict:
    """Find duplicate clusters in the normalize output ``normalized``; write ``out/duplicates.parquet`` and metrics."""
    params = params or DedupParams()
    workers = workers or default_workers()
    paths = ingest.output_shards(normalized)
    check_apart(out, [normalized])
    # Kept as Arrow arrays, not Python lists: a few hundred bytes less per document at a million documents.
    # ("source.path" reads as a column named path.)
    tables = [pq.read_table(p, columns=["id", "text_sha256", "source.path"]) for p in paths]

    def column(name: str) -> pa.Array:
        chunks = [chunk for table in tables for chunk in table.column(name).chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())

    ids, doc_paths = column("id"), column("path")
    exact_rep = first_occurrence(column("text_sha256"))
    reps = exact_rep == np.arange(len(ids))
    keys, has_words = _band_keys(paths, reps, params, workers, progress, engine)
    verified, sets, candidates = _verified_pairs(paths, len(ids), np.flatnonzero(reps), keys, has_words, params)

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
    table = pa.Table.from_pylist(decisions, schema=schema.duplicate().arrow)
    schema.duplicate().check(table)
    with atomic_dir(out) as folder:
        pq.write_table(table, folder / "duplicates.parquet", **PARQUET_OPTIONS)
        write_json(folder / "metrics.json", metrics)
    return metrics


def dropped(folder: str | Path, drop: str) -> dict[str, dict]:
    """The duplicates publish leaves out under ``drop`` (exact | near | none): id -> its decision row."""
    if drop == "none":
        return {}
    path = Path(folder) / "duplicates.parquet"
    if not path.is_file():
        raise BroadsheetError(f"{folder} is not a dedup output (no duplicates.parquet): run broadsheet dedup first")
    kinds = {"exact"} if drop == "exact" else {"exact", "near"}
    return {row["id"]: row for row in pq.read_table(path).to_pylist() if row["kind"] in kinds}
