"""How much of a new version's Hub export (data/*.parquet) a chunk-deduplicating store already holds.

    python scripts/bench_cdc.py [--docs 100000] [--work DIR]

Publishes a synthetic corpus (v1) and three v2s: 1% more documents appended,
10 documents edited, 10 removed. Each version's Parquet export is written twice
from the same Arrow shards, with and without pyarrow's content-defined chunking
(``use_content_defined_chunking``, what broadsheet writes), then cut into chunks
by a gear-hash content-defined chunker (~64 KiB on average, as Xet-style
storage does) and the share of v2's bytes whose chunk v1 already has is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MASK = (1 << 16) - 1  # a boundary where the gear hash's low 16 bits are 0: every ~64 KiB
MIN_CHUNK, MAX_CHUNK = 8 << 10, 256 << 10
_GEAR = np.random.default_rng(7).integers(0, 1 << 16, size=256, dtype=np.uint64)


def chunks(data: bytes) -> list[bytes]:
    """Content-defined chunks of ``data``: a gear hash over the bytes, cut where its low 16 bits are 0 (which
    depend only on the last 16 bytes), at least MIN_CHUNK and at most MAX_CHUNK apart."""
    gear = _GEAR[np.frombuffer(data, np.uint8)]
    rolling = np.zeros(len(gear), np.uint64)
    for k in range(16):  # h_i = sum_k gear[b_{i-k}] << k, modulo 2^16 for the low bits
        rolling[k:] += gear[: len(gear) - k] << np.uint64(k)
    candidates = np.flatnonzero((rolling & np.uint64(MASK)) == 0) + 1
    cuts, start = [], 0
    for end in candidates.tolist():
        while end - start > MAX_CHUNK:
            start += MAX_CHUNK
            cuts.append(start)
        if end - start >= MIN_CHUNK:
            cuts.append(end)
            start = end
    bounds = [0, *cuts, len(data)] if not cuts or cuts[-1] != len(data) else [0, *cuts]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def export(dataset: Path, out: Path, cdc: bool) -> list[Path]:
    """The Parquet export of a published folder's Arrow shards, with or without content-defined chunking."""
    import pyarrow.parquet as pq

    from broadsheet.publish import layout

    out.mkdir(parents=True)
    written = []
    for split in ("train", "validation", "test"):
        for path in layout.arrow_files(dataset, split):
            target = out / f"{split}-{path.stem}.parquet"
            pq.write_table(layout.read_arrow(path), target, compression="zstd", use_content_defined_chunking=cdc)
            written.append(target)
    return written


def chunk_set(paths: list[Path]) -> dict[str, int]:
    found = {}
    for path in paths:
        for chunk in chunks(path.read_bytes()):
            found[hashlib.sha256(chunk).hexdigest()] = len(chunk)
    return found


def shared(v1: list[Path], v2: list[Path]) -> float:
    """The share of v2's bytes in chunks v1 also has."""
    old = chunk_set(v1)
    total = hit = 0
    for path in v2:
        for chunk in chunks(path.read_bytes()):
            total += len(chunk)
            hit += len(chunk) if hashlib.sha256(chunk).hexdigest() in old else 0
    return hit / total if total else 1.0


def broadsheet(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "broadsheet", *args, "-q"], check=True)


def publish(raw: Path, work: Path, params: Path) -> Path:
    broadsheet("normalize", str(raw), "--out", str(work / "normalized"), "--params", str(params))
    broadsheet("publish", str(work / "normalized"), "--out", str(work / "dataset"), "--params", str(params))
    return work / "dataset"


def variant(raw: Path, work: Path, name: str, docs: int) -> Path:
    """A copy of the raw folder changed as ``name`` says."""
    target = work / f"raw-{name}"
    shutil.copytree(raw, target)
    files = sorted(target.glob("*.txt"))
    if name == "append 1%":
        extra = work / "extra"
        subprocess.run(
            [sys.executable, str(HERE / "make_corpus.py"), str(extra), "--docs", str(docs // 100), "--seed", "99"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for n, path in enumerate(sorted(extra.glob("*.txt"))):
            path.rename(target / f"{docs + n:07d}_{path.name.split('_', 1)[1]}")
    elif name == "edit 10":
        for path in files[:: max(1, len(files) // 10)][:10]:
            path.write_text(path.read_text(encoding="utf-8").replace(" ", "  edited ", 1), encoding="utf-8")
    else:
        for path in files[5 :: max(1, len(files) // 10)][:10]:
            path.unlink()
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None, help="Working folder (default: a new temporary one).")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cdc-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text("filter:\n  min_words: 0\n")
    raw = work / "raw"
    subprocess.run(
        [sys.executable, str(HERE / "make_corpus.py"), str(raw), "--docs", str(args.docs)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (raw / "planted.json").unlink(missing_ok=True)
    params = work / "params.yaml"
    v1 = publish(raw, work / "v1", params)
    first = {cdc: export(v1, work / "v1" / f"export-{cdc}", cdc) for cdc in (False, True)}
    print(f"{'change':<12}{'plain Parquet':>16}{'content-defined':>18}   (share of v2's bytes v1 already holds)")
    for name in ("append 1%", "edit 10", "remove 10"):
        folder = work / name.replace(" ", "-").replace("%", "pc")
        v2 = publish(variant(raw, folder, name, args.docs), folder, params)
        shares = [shared(first[cdc], export(v2, folder / f"export-{cdc}", cdc)) for cdc in (False, True)]
        print(f"{name:<12}{shares[0]:>16.1%}{shares[1]:>18.1%}")


if __name__ == "__main__":
    main()
