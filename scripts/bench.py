"""Normalisation speed, side by side, on the same files: the floor, broadsheet, datatrove, datasets.

    pip install -e '.[bench]'
    python scripts/bench.py [--docs 100000] [--corpus DIR] [--rounds 1] [--only floor,broadsheet-2]
                            [--peer NAME=COMMAND]

Writes a synthetic corpus (scripts/make_corpus.py) unless given one, warms the
page cache, then runs each contestant in its own process, in alternation over
``--rounds``, and prints documents/s, MB/s, peak RSS of the process tree and the ratio to the floor:
- floor: broadsheet's own read + normalise + quality-filter functions in one tight loop writing Parquet with the schema;
- floor-2: the same loop in two independent processes, each on half the files: what two cores give
  with no coordination at all (the ceiling for any 2-worker run);
- bare: no broadsheet at all: read, decode (UTF-8, else cp1252), sha256, split the sections, Parquet; no
  clean-up, no language ID, no repairs. It shows what normalisation itself costs (the summary gives
  broadsheet-1 against it: the aim is half its speed);
- broadsheet-2-tar: `broadsheet normalize` with 2 workers on the same files packed in gzip tar shards;
- broadsheet-1 / broadsheet-2: `broadsheet normalize` with 1 and 2 workers;
- datatrove-2: LocalPipelineExecutor, a small reader step for the text files, the same normalise function,
  ParquetWriter;
- datasets-1: `datasets.Dataset.from_generator` with the same function, then `save_to_disk`;
- any --peer NAME=COMMAND: COMMAND CORPUS OUTDIR run as is (your own loop, say), timed the same way.
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
from bench_dvc import pack

HERE = Path(__file__).resolve().parent


FILTERS = {"min_words": 0}
"""The quality filters every contestant applies: broadsheet's defaults, less the minimum length
(short synthetic documents are kept)."""


def _files(corpus: Path) -> list[str]:
    """The corpus's text files in name order, as strings (sorting Path objects costs the floor 1.4 s per 100,000)."""
    return sorted(entry.path for entry in os.scandir(corpus) if entry.name.endswith(".txt"))


def _records(files: list[str]):
    """The record of every file that normalises to one and passes the quality filters, with broadsheet's pure functions.

    Every contestant runs exactly this per document (broadsheet normalize runs the same
    functions), so the ratios measure what is around it: reading, workers, encoding, writing.
    """
    from broadsheet.core.params import FilterParams, NormalizeParams
    from broadsheet.core.values import Rejected, Source
    from broadsheet.inputs.names import identify
    from broadsheet.text import quality
    from broadsheet.text.document import normalize_document

    params, filters = NormalizeParams(), FilterParams(**FILTERS)
    for path in files:
        name = os.path.basename(path)
        ident, ordinal = identify(name)
        with open(path, "rb") as f:
            raw = f.read()
        record = normalize_document(raw, Source(path, name, ident, ordinal), params)
        if not isinstance(record, Rejected) and quality.check(record, filters) is None:
            yield record


def floor(corpus: Path, out: Path, part: int = 0, parts: int = 1) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from broadsheet.core import schema

    arrow = schema.document().arrow
    files = _files(corpus)[part::parts]
    with pq.ParquetWriter(out / f"floor-{part}.parquet", arrow, compression="zstd") as writer:
        batch = []
        for record in _records(files):
            batch.append(record)
            if len(batch) == 1000:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=arrow))
                batch = []
        if batch:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=arrow))


def floors(corpus: Path, out: Path, parts: int) -> None:
    """The floor in ``parts`` independent processes, each on its share of the files: what this machine's cores give."""
    runs = [
        subprocess.Popen([sys.executable, __file__, "--floor-part", str(corpus), str(out), str(i), str(parts)])
        for i in range(parts)
    ]
    if any(run.wait() for run in runs):
        raise SystemExit("a floor process failed")


def bare(corpus: Path, out: Path) -> None:
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("text", pa.string()),
            ("related", pa.list_(pa.string())),
            ("text_sha256", pa.string()),
            ("path", pa.string()),
        ]
    )
    columns: dict[str, list] = {name: [] for name in arrow.names}

    def flush(writer) -> None:
        writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=arrow))
        for values in columns.values():
            values.clear()

    with pq.ParquetWriter(out / "bare.parquet", arrow, compression="zstd") as writer:
        for path in _files(corpus):
            with open(path, "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", "replace")
            lines = text.replace("\r\n", "\n").split("\n")
            sep = max((i for i, line in enumerate(lines) if line.strip() == "-"), default=len(lines))
            body = "\n\n".join(line.strip() for line in lines[1:sep] if line.strip())
            name = os.path.basename(path)
            columns["id"].append(name.removesuffix(".txt").split("_")[-1])
            columns["title"].append(lines[0].strip())
            columns["text"].append(body)
            columns["related"].append([h.strip().removesuffix(" -") for h in lines[sep + 1 :] if h.strip()])
            columns["text_sha256"].append(hashlib.sha256(body.encode()).hexdigest())
            columns["path"].append(name)
            if len(columns["id"]) == 1000:
                flush(writer)
        flush(writer)


def packed_dir(corpus: Path) -> Path:
    return corpus.parent / f"{corpus.name}-packed"


def broadsheet(corpus: Path, out: Path, workers: int) -> None:
    from broadsheet.core.params import ComputeParams, FilterParams, Params
    from broadsheet.normalize.stage import run

    params = Params(filter=FilterParams(**FILTERS), compute=ComputeParams(workers=workers))
    run([corpus], out / "normalized", params, progress=False)


def datasets_from_generator(corpus: Path, out: Path) -> None:
    from datasets import Dataset

    from broadsheet.core import schema

    files = _files(corpus)
    ds = Dataset.from_generator(
        lambda: _records(files), features=schema.document().features(), cache_dir=str(out / "cache")
    )
    ds.save_to_disk(str(out / "dataset"))


def datatrove(corpus: Path, out: Path, workers: int) -> None:
    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.writers import ParquetWriter

    from broadsheet.core import schema

    class TextFiles(PipelineStep):
        """A reader of one text file per document, sharded by rank."""

        def run(self, data, rank: int = 0, world_size: int = 1):
            files = _files(corpus)[rank::world_size]
            for record in _records(files):
                yield Document(text=record["text"], id=record["id"], metadata=record)

    def as_record(self, document):  # the whole record, in the schema's shape
        return document.metadata

    writer = ParquetWriter(
        str(out / "datatrove"), compression="zstd", adapter=as_record, schema=schema.document().arrow
    )
    LocalPipelineExecutor([TextFiles(), writer], tasks=workers, workers=workers, logging_dir=str(out / "logs")).run()


CONTESTANTS = {
    "floor": lambda c, o: floor(c, o),
    "floor-2": lambda c, o: floors(c, o, 2),
    "bare": lambda c, o: bare(c, o),
    "broadsheet-1": lambda c, o: broadsheet(c, o, 1),
    "broadsheet-2": lambda c, o: broadsheet(c, o, 2),
    "broadsheet-2-tar": lambda c, o: broadsheet(packed_dir(c), o, 2),
    "datatrove-2": lambda c, o: datatrove(c, o, 2),
    "datasets-1": lambda c, o: datasets_from_generator(c, o),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default=",".join(CONTESTANTS))
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="also time COMMAND CORPUS OUTDIR (e.g. your own loop), side by side",
    )
    parser.add_argument("--child", nargs=3, metavar=("NAME", "CORPUS", "RESULT"), help=argparse.SUPPRESS)
    parser.add_argument("--floor-part", nargs=4, metavar=("CORPUS", "OUT", "PART", "PARTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_part:
        corpus, out, part, parts = args.floor_part
        floor(Path(corpus), Path(out), int(part), int(parts))
        return
    if args.child:
        name, corpus, result = args.child
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            CONTESTANTS[name](Path(corpus), Path(out))
            Path(result).write_text(json.dumps({"seconds": time.perf_counter() - start}))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    corpus = args.corpus or tmp / "raw"
    if not args.corpus:
        subprocess.run(
            [sys.executable, str(HERE / "make_corpus.py"), str(corpus), "--docs", str(args.docs)], check=True
        )
    files = sorted(corpus.glob("*.txt"))
    size = sum(p.stat().st_size for p in files)
    names = args.only.split(",")
    if "broadsheet-2-tar" in names and not packed_dir(corpus).is_dir():
        pack(files, packed_dir(corpus), per_shard=10_000)
    for p in files:  # warm the page cache
        p.read_bytes()
    peers = dict(peer.split("=", 1) for peer in args.peer)
    results: dict[str, list] = {name: [] for name in [*names, *peers]}
    for _ in range(args.rounds):
        for name in results:
            if name in peers:
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    status, rss_mb = measure.run([*shlex.split(peers[name]), str(corpus), out])
                    seconds = time.perf_counter() - start
            else:
                result = tmp / f"{name}.json"
                status, rss_mb = measure.run([sys.executable, __file__, "--child", name, str(corpus), str(result)])
                seconds = json.loads(result.read_text())["seconds"] if status == 0 else 0
            if status == 0:
                results[name].append((seconds, rss_mb))
    best = {name: min(runs) for name, runs in results.items() if runs}
    base = best.get("floor", (float("nan"), 0))[0]
    print(f"\n{len(files)} files, {size / 1e6:.0f} MB, {args.rounds} round(s), best of each; {os.cpu_count()} cores")
    print(f"{'contestant':<18}{'seconds':>9}{'docs/s':>9}{'MB/s':>8}{'peak RSS MB':>13}{'speed / floor':>15}")
    for name in results:
        if name not in best:
            print(f"{name:<18}  failed")
            continue
        seconds, rss = best[name]
        print(
            f"{name:<18}{seconds:>9.1f}{len(files) / seconds:>9.0f}{size / 1e6 / seconds:>8.1f}"
            f"{rss:>13.0f}{base / seconds:>15.2f}"
        )
    print(summary({name: 1 / seconds for name, (seconds, _) in best.items()}))


def summary(speed: dict[str, float]) -> str:
    """One line: broadsheet against the targets (DESIGN section 6, issue 17) and against each peer;
    ``speed``: each contestant's runs per second."""
    parts = []
    if "floor" in speed:
        speed = {name: value / speed["floor"] for name, value in speed.items()}
    for name, target in (("broadsheet-1", 0.8), ("broadsheet-2", 1.7)):
        if name in speed and "floor" in speed:
            parts.append(
                f"{name} {speed[name]:.2f}x floor (target {target}x: {'met' if speed[name] >= target else 'NOT met'})"
            )
    if "bare" in speed and "broadsheet-1" in speed:  # issue 17.3: normalisation at half its cost
        share = speed["broadsheet-1"] / speed["bare"]
        parts.append(f"broadsheet-1 at {share:.2f}x bare's speed (target 0.5x: {'met' if share >= 0.5 else 'NOT met'})")
    if "broadsheet-1" in speed and "broadsheet-2" in speed:
        parts.append(f"broadsheet-2 {speed['broadsheet-2'] / speed['broadsheet-1']:.2f}x broadsheet-1")
    if "floor-2" in speed and "broadsheet-2" in speed:
        parts.append(
            f"two cores give {speed['floor-2']:.2f}x; "
            f"broadsheet-2 gets {speed['broadsheet-2'] / speed['floor-2']:.0%} of it"
        )
    ours = speed.get("broadsheet-2")
    for peer in ("datatrove-2", "datasets-1"):
        if ours and peer in speed:
            parts.append(f"{ours / speed[peer]:.2f}x {peer}")
    return "summary: " + "; ".join(parts) if parts else "summary: nothing to compare"


if __name__ == "__main__":
    main()
