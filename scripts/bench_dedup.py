"""Near-duplicate detection, side by side: broadsheet dedup, datasketch, datatrove.

    pip install -e '.[bench]'
    python scripts/bench_dedup.py [--docs 100000] [--workers 2] [--corpus DIR]

Generates a synthetic corpus with planted exact and near duplicates
(scripts/make_corpus.py), normalises it once (not timed), then runs each peer
in its own process on the same texts with the same settings (5-word shingles,
128 permutations, threshold 0.8) and reports wall time, documents/s, peak RSS
of the process tree, and recall/precision of the planted pairs whose exact Jaccard
similarity is at least 0.8. Peers:
- broadsheet: `broadsheet.dedup.stage.run` (NumPy MinHash, LSH, exact Jaccard check);
- datasketch: MinHash + MinHashLSH used the straightforward way (query, then insert);
- datatrove: MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster, LocalPipelineExecutor.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent
NGRAM, NUM_PERM, THRESHOLD = 5, 128, 0.8


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


# --- peers: each runs in a child process and writes {"seconds", "pairs": [[a, b], ...]} -------------


def peer_broadsheet(normalized: Path, work: Path, workers: int) -> list[list[str]]:
    import pyarrow.parquet as pq

    from broadsheet.core.params import ComputeParams, Params
    from broadsheet.dedup.stage import run

    run(normalized, work / "dedup", Params(compute=ComputeParams(workers=workers)), progress=False)
    rows = pq.read_table(work / "dedup" / "duplicates.parquet").to_pylist()
    return [[r["cluster"], r["id"]] for r in rows if r["kind"] != "kept"]


def peer_datasketch(texts: Path, work: Path, workers: int) -> list[list[str]]:
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    table = pq.read_table(texts)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    pairs = []
    for doc_id, text in zip(table.column("id").to_pylist(), table.column("text").to_pylist()):
        w = words(text)
        shingles = {" ".join(w[i : i + NGRAM]) for i in range(max(1, len(w) - NGRAM + 1))}
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles])
        pairs += [[other, doc_id] for other in lsh.query(m)]
        lsh.insert(doc_id, m)
    return pairs


def peer_datatrove(texts: Path, work: Path, workers: int) -> list[list[str]]:
    import struct

    import pyarrow.parquet as pq
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader

    config = MinhashConfig(n_grams=NGRAM, num_buckets=16, hashes_per_bucket=8)
    LocalPipelineExecutor(
        [
            ParquetReader(str(texts.parent), glob_pattern="*.parquet", text_key="text", id_key="id"),
            MinhashDedupSignature(output_folder=str(work / "sigs"), config=config),
        ],
        tasks=workers,
        workers=workers,
        logging_dir=str(work / "logs1"),
    ).run()
    LocalPipelineExecutor(
        [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config)],
        tasks=config.num_buckets,
        workers=workers,
        logging_dir=str(work / "logs2"),
    ).run()
    LocalPipelineExecutor(
        [
            MinhashDedupCluster(
                input_folder=str(work / "buckets"),
                output_folder=str(work / "clusters"),
                config=config,
                save_cluster_id=True,
            )
        ],
        tasks=1,
        logging_dir=str(work / "logs3"),
    ).run()
    # Files are read in sorted order, one task per file: file i = the i-th shard, doc = its row.
    shards = sorted(texts.parent.glob("*.parquet"))
    ids = [pq.read_table(p, columns=["id"]).column("id").to_pylist() for p in shards]
    clusters: dict[int, list[str]] = {}
    for path in sorted((work / "clusters").glob("*.clusters")):
        data = path.read_bytes()
        for doc, cluster in struct.iter_unpack("<II", data):
            clusters.setdefault(cluster, []).append(ids[int(path.stem)][doc])
    return [[members[0], m] for members in clusters.values() for m in members[1:]]


PEERS = {"broadsheet": peer_broadsheet, "datasketch": peer_datasketch, "datatrove": peer_datatrove}


def run_child(name: str, source: Path, work: Path, workers: int, result: Path) -> None:
    start = time.perf_counter()
    pairs = PEERS[name](source, work, workers)
    result.write_text(json.dumps({"seconds": time.perf_counter() - start, "pairs": pairs}))


# --- the parent: corpus, ground truth, children, table ----------------------------------------------


def ground_truth(corpus: Path, texts: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Planted pairs with exact Jaccard >= threshold on the normalised texts, and planted groups (id -> group)."""
    import pyarrow as pa

    from broadsheet.dedup import minhash

    planted = [(a, b) for a, b, _ in json.loads((corpus / "planted.json").read_text()) if a in texts and b in texts]
    group: dict[str, int] = {}
    for a, b in planted:
        g = group.setdefault(a, len(group))
        group[b] = g
    sets = {}
    for doc_id in {i for pair in planted for i in pair}:
        w, o = minhash.token_hashes(pa.array([texts[doc_id]]))
        sets[doc_id] = minhash.shingles(w[o[0] : o[1]], NGRAM)
    similar = [(a, b) for a, b in planted if minhash.jaccard(sets[a], sets[b]) >= THRESHOLD]
    return similar, group


def score(pairs: list[list[str]], truth: list[tuple[str, str]], group: dict[str, int]) -> tuple[float, float]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    recall = sum(find(a) == find(b) for a, b in truth) / max(1, len(truth))
    correct = sum(a in group and b in group and group[a] == group[b] for a, b in pairs)
    precision = correct / max(1, len(pairs))
    return recall, precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, help="an existing make_corpus.py folder (default: generate one)")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--child", nargs=4, metavar=("PEER", "SOURCE", "WORK", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, source, work, result = args.child
        return run_child(name, Path(source), Path(work), args.workers, Path(result))

    import pyarrow as pa
    import pyarrow.parquet as pq

    from broadsheet.core.params import ComputeParams, FilterParams, Params
    from broadsheet.normalize import folder
    from broadsheet.normalize.stage import run

    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    corpus = args.corpus or tmp / "raw"
    if not args.corpus:
        subprocess.run(
            [sys.executable, str(HERE / "make_corpus.py"), str(corpus), "--docs", str(args.docs)], check=True
        )
    normalized = tmp / "normalized"
    params = Params(filter=FilterParams(min_words=0), compute=ComputeParams(workers=args.workers))
    run([corpus], normalized, params, progress=False)
    table = pa.concat_tables(pq.read_table(p, columns=["id", "text"]) for p in folder.shards(normalized))
    (tmp / "texts").mkdir()
    for i in range(args.workers):  # one file per worker for the peers that read files
        pq.write_table(
            table.slice(i * table.num_rows // args.workers, table.num_rows // args.workers + 1),
            tmp / "texts" / f"part-{i}.parquet",
        )
    texts = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    truth, group = ground_truth(corpus, texts)

    rows = []
    for name in args.peers.split(","):
        work, result = tmp / f"work-{name}", tmp / f"{name}.json"
        work.mkdir()
        source = normalized if name == "broadsheet" else tmp / "texts" / "part-0.parquet"
        if name == "datasketch":
            pq.write_table(table, tmp / "all.parquet")
            source = tmp / "all.parquet"
        cmd = [
            sys.executable,
            __file__,
            "--workers",
            str(args.workers),
            "--child",
            name,
            str(source),
            str(work),
            str(result),
        ]
        status, rss_mb = measure.run(cmd)
        if status != 0 or not result.exists():
            rows.append((name, None))
            continue
        out = json.loads(result.read_text())
        recall, precision = score(out["pairs"], truth, group)
        rows.append((name, {"seconds": out["seconds"], "rss_mb": rss_mb, "recall": recall, "precision": precision}))

    base = next((r for n, r in rows if n == "broadsheet" and r), None)
    print(f"\n{len(texts)} documents, {len(truth)} planted pairs with Jaccard >= {THRESHOLD}, {args.workers} workers")
    print(
        f"{'peer':<12}{'seconds':>9}{'docs/s':>9}{'peak RSS MB':>13}{'recall':>8}{'precision':>10}"
        f"{'time / broadsheet':>19}"
    )
    for name, r in rows:
        if r is None:
            print(f"{name:<12}  failed")
            continue
        ratio = r["seconds"] / base["seconds"] if base else float("nan")
        print(
            f"{name:<12}{r['seconds']:>9.1f}{len(texts) / r['seconds']:>9.0f}{r['rss_mb']:>13.0f}"
            f"{r['recall']:>8.3f}{r['precision']:>10.3f}{ratio:>19.2f}"
        )


if __name__ == "__main__":
    main()
