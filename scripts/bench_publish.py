"""Publish speed, side by side, on the same normalize output: the floor, broadsheet on one and two workers,
datasets, and any other command.

    pip install -e '.[bench]'
    python scripts/bench_publish.py [--docs 100000] [--normalized DIR [--duplicates DIR]] [--rounds 1]
                                    [--only bare,broadsheet-1,broadsheet-2,datasets-1]
                                    [--peer 'NAME=COMMAND with {normalized} {duplicates} {out}']

Unless given a normalize output, writes a synthetic corpus (scripts/make_corpus.py) and runs
`broadsheet normalize` and `broadsheet dedup` on it once. Then runs each contestant in its own process, in
turns over ``--rounds``, into a folder of its own that did not exist, and prints the seconds, documents/s, the
peak RSS of the process tree and the speed against broadsheet-1:
- bare: pyarrow alone, on one core: every normalised record read back, sent to its split, and written as Arrow
  stream and content-defined zstd Parquet shards of ``publish.shard_rows`` rows with their sha256. No manifest,
  no content hashes, no duplicates left out, no card: what writing the rows twice costs;
- broadsheet-1 / broadsheet-2: `broadsheet publish --duplicates --fresh` with 1 and 2 workers;
- datasets-1: `datasets.Dataset.from_parquet` on the normalised shards, then `save_to_disk` and `to_parquet`
  (no splits): what a user of `datasets` alone would run;
- any --peer NAME=COMMAND: COMMAND with {normalized}, {duplicates} and {out} filled in (another checkout's
  broadsheet through PYTHONPATH, say), timed the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import measure

HERE = Path(__file__).resolve().parent


def bare(normalized: Path, duplicates: Path, out: Path) -> None:
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from broadsheet.core.params import SPLITS, PublishParams
    from broadsheet.publish.splits import split_of

    params = PublishParams()
    pending = {split: [] for split in SPLITS}
    written = {split: 0 for split in SPLITS}

    def flush(split: str) -> None:
        table = pa.Table.from_batches(pending[split]).combine_chunks()
        name = f"{split}-{written[split]:05d}"
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
        export = pa.BufferOutputStream()
        pq.write_table(table, export, compression="zstd", use_content_defined_chunking=True)
        for path, data in ((out / f"{name}.arrow", sink.getvalue()), (out / f"{name}.parquet", export.getvalue())):
            path.write_bytes(data)
            hashlib.sha256(data).hexdigest()
        pending[split], written[split] = [], written[split] + 1

    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((normalized / "data").glob("*.parquet")):
        batch = pq.ParquetFile(path).read(use_threads=False).combine_chunks().to_batches()[0]
        assigned = pa.array([split_of(i, params.splits) for i in batch.column("id").to_pylist()])
        for split in SPLITS:
            pending[split].append(batch.filter(pc.equal(assigned, split)))
            if sum(b.num_rows for b in pending[split]) >= params.shard_rows:
                flush(split)
    for split in SPLITS:
        if pending[split]:
            flush(split)


def datasets_peer(normalized: Path, duplicates: Path, out: Path) -> None:
    from datasets import Dataset, disable_progress_bars

    disable_progress_bars()
    files = [str(p) for p in sorted((normalized / "data").glob("*.parquet"))]
    dataset = Dataset.from_parquet(files, cache_dir=str(out / "cache"))
    dataset.save_to_disk(str(out / "arrow"))
    dataset.to_parquet(str(out / "data.parquet"))


def broadsheet(workers: int):
    def run(normalized: Path, duplicates: Path, out: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "broadsheet",
            "publish",
            str(normalized),
            "--duplicates",
            str(duplicates),
            "--out",
            str(out),
        ]
        subprocess.run([*command, "--workers", str(workers), "--fresh", "-q"], check=True)

    return run


CONTESTANTS = {
    "bare": bare,
    "broadsheet-1": broadsheet(1),
    "broadsheet-2": broadsheet(2),
    "datasets-1": datasets_peer,
}


def prepare(work: Path, docs: int) -> tuple[Path, Path]:
    """A synthetic corpus of ``docs`` documents, normalised and deduplicated once."""
    raw, normalized, duplicates = work / "raw", work / "normalized", work / "dedup"
    subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(raw), "--docs", str(docs)], check=True)
    broadsheet = [sys.executable, "-m", "broadsheet"]
    subprocess.run([*broadsheet, "normalize", str(raw), "--out", str(normalized), "-q"], check=True)
    subprocess.run([*broadsheet, "dedup", str(normalized), "--out", str(duplicates), "-q"], check=True)
    return normalized, duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--normalized", type=Path, help="an existing normalize output (default: make one)")
    parser.add_argument("--duplicates", type=Path, help="its dedup output (default: NORMALIZED/../dedup)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default=",".join(CONTESTANTS))
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=COMMAND")
    parser.add_argument("--child", nargs=5, metavar=("NAME", "NORMALIZED", "DUPLICATES", "OUT", "RESULT"))
    args = parser.parse_args()
    if args.child:
        name, normalized, duplicates, out, result = args.child
        start = time.perf_counter()
        CONTESTANTS[name](Path(normalized), Path(duplicates), Path(out))
        Path(result).write_text(json.dumps({"seconds": time.perf_counter() - start}))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    if args.normalized:
        normalized, duplicates = args.normalized, args.duplicates or args.normalized.parent / "dedup"
    else:
        normalized, duplicates = prepare(tmp, args.docs)
    documents = json.loads((normalized / "metrics.json").read_text())["documents"]
    for path in [*normalized.rglob("*.parquet"), *duplicates.rglob("*.parquet")]:  # warm the page cache
        path.read_bytes()
    peers = dict(peer.split("=", 1) for peer in args.peer)
    results: dict[str, list] = {name: [] for name in [*args.only.split(","), *peers]}
    for round_ in range(args.rounds):
        for name in results:
            out = tmp / f"{name}-{round_}"
            if name in peers:
                command = peers[name].format(normalized=normalized, duplicates=duplicates, out=out)
                start = time.perf_counter()
                status, rss_mb = measure.run(shlex.split(command))
                seconds = time.perf_counter() - start
            else:
                result = tmp / f"{name}.json"
                child = [sys.executable, __file__, "--child", name, str(normalized), str(duplicates), str(out)]
                status, rss_mb = measure.run([*child, str(result)])
                seconds = json.loads(result.read_text())["seconds"] if status == 0 else 0
            subprocess.run(["rm", "-rf", str(out)], check=True)
            if status == 0:
                results[name].append((seconds, rss_mb))
    best = {name: min(runs) for name, runs in results.items() if runs}
    base = best.get("broadsheet-1", (float("nan"), 0))[0]
    print(f"\n{documents:,} documents, {args.rounds} round(s), best of each; {os.cpu_count()} cores")
    print(f"{'contestant':<18}{'seconds':>9}{'docs/s':>9}{'peak RSS MB':>13}{'speed / broadsheet-1':>22}")
    for name in results:
        if name not in best:
            print(f"{name:<18}  failed")
            continue
        seconds, rss = best[name]
        print(f"{name:<18}{seconds:>9.1f}{documents / seconds:>9.0f}{rss:>13.0f}{base / seconds:>22.2f}")
    print(summary({name: 1 / seconds for name, (seconds, _) in best.items()}, peers))


def summary(speed: dict[str, float], peers: dict[str, str]) -> str:
    """One line: two workers against one, against the floor, and against every other peer."""
    parts = []
    ours = speed.get("broadsheet-2")
    if ours and "broadsheet-1" in speed:
        parts.append(f"broadsheet-2 {ours / speed['broadsheet-1']:.2f}x broadsheet-1")
    for peer in ("bare", "datasets-1", *peers):
        if ours and peer in speed:
            parts.append(f"{ours / speed[peer]:.2f}x {peer}")
    return "summary: " + "; ".join(parts) if parts else "summary: nothing to compare"


if __name__ == "__main__":
    main()
