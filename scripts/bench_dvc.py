"""What a corpus costs in DVC as loose files and as tar shards, and what adding 1% more documents costs.

    python scripts/bench_dvc.py [--docs 1000000] [--corpus DIR] [--per-shard 10000] [--layouts loose,tar] [--packed DIR]

For each layout, in a fresh git + DVC project whose pipeline is the normalize
stage of this repo's dvc.yaml (same command and params), with the raw folder
tracked by `dvc add corpus/raw` (as a large corpus is: not in git), it times:
  1. `dvc add corpus/raw` (DVC hashes and caches the raw inputs);
  2. the first `dvc repro` (broadsheet normalises everything), with the peak RSS of the whole
     process tree (DVC, broadsheet and its workers);
  3. a second `dvc repro` with nothing changed (DVC checks, then does nothing);
  4. `dvc status`;
  5. after adding 1% new documents (loose: new files; tar: one more shard), `dvc add corpus/raw`
     and then `dvc repro` (and its peak RSS): broadsheet normalises only the shards that changed
     and copies the rest from its previous output.
The corpus comes from scripts/make_corpus.py unless given; the 1% extra from it with another seed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

import measure

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def sh(cwd: Path, *cmd: str) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def timed(cwd: Path, *cmd: str, **popen) -> tuple[float, float]:
    """(seconds, peak RSS MiB of the process tree) of ``cmd`` run in ``cwd`` (``popen``: more arguments of Popen)."""
    start = time.perf_counter()
    status, rss = measure.run(list(cmd), cwd=cwd, **popen)
    if status:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}")
    return time.perf_counter() - start, rss


def link_files(files: list[Path], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.link(path, into / path.name)


def pack(files: list[Path], into: Path, per_shard: int, prefix: str = "shard") -> None:
    into.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(files), per_shard):
        with tarfile.open(into / f"{prefix}-{start // per_shard:05d}.tar.gz", "w:gz", compresslevel=6) as tar:
            for path in files[start : start + per_shard]:
                tar.add(path, arcname=path.name)


def corpus_and_extra(corpus: Path | None, docs: int, tmp: Path, share: float) -> tuple[list[Path], list[Path]]:
    """The corpus's files (``corpus``, else ``docs`` made by make_corpus.py in ``tmp``), and ``share`` as many more
    made with another seed, to add."""
    if corpus is None:
        corpus = tmp / "raw"
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(corpus), "--docs", str(docs)], check=True)
    files = sorted(corpus.glob("*.txt"))
    count = str(max(1, round(len(files) * share)))
    make = [sys.executable, str(HERE / "make_corpus.py"), str(tmp / "extra"), "--docs", count, "--seed", "2"]
    subprocess.run(make, check=True, stdout=subprocess.DEVNULL)
    extra = sorted((tmp / "extra").glob("*.txt"))
    if clash := {p.name for p in extra} & {p.name for p in files}:
        raise SystemExit(f"the extra documents' names clash with the corpus's: {sorted(clash)[:3]}")
    return files, extra


def project(root: Path) -> None:
    """A git + DVC project with this repo's normalize stage, params and schemas."""
    root.mkdir(parents=True)
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["normalize"]
    stage["deps"] = ["corpus/raw"]  # the code is the installed broadsheet's; its hash is not what is measured
    stage["cmd"] = stage["cmd"].replace(" --metrics metrics/normalize.json", "")
    stage.pop("metrics", None)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"normalize": stage}}, sort_keys=False))
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "config", "core.analytics", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--corpus", type=Path, help="a folder of NNN_<key>.txt files (default: generate --docs)")
    parser.add_argument("--per-shard", type=int, default=10_000, help="documents per tar shard")
    parser.add_argument("--layouts", default="loose,tar")
    parser.add_argument("--packed", type=Path, help="the corpus already packed in tar shards (default: pack it here)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dvc-"))
    files, extra = corpus_and_extra(args.corpus, args.docs, tmp, 0.01)
    rows = []
    for layout in args.layouts.split(","):
        root = tmp / layout
        project(root)
        raw = root / "corpus" / "raw"
        if layout == "loose":
            link_files(files, raw)
        elif args.packed:
            link_files(sorted(args.packed.glob("*.tar*")), raw)
        else:
            pack(files, raw, args.per_shard)
        objects = sum(1 for p in raw.rglob("*") if p.is_file())
        add, _ = timed(root, "dvc", "add", "-q", "corpus/raw")
        sh(root, "git", "add", "-A")
        sh(root, "git", "commit", "-qm", "corpus")
        first, rss = timed(root, "dvc", "repro", "-q")
        noop, _ = timed(root, "dvc", "repro", "-q")
        status, _ = timed(root, "dvc", "status", "-q")
        if layout == "loose":
            link_files(extra, raw)
        else:
            pack(extra, raw, args.per_shard, prefix="zz-added")
        add_more, _ = timed(root, "dvc", "add", "-q", "corpus/raw")
        added, added_rss = timed(root, "dvc", "repro", "-q")
        rows.append((layout, objects, add, first, rss, noop, status, add_more, added, added_rss))
        shutil.rmtree(root)
    print(f"\n{len(files)} documents (+{len(extra)} added), {os.cpu_count()} cores; seconds unless said")
    print(
        f"{'layout':<8}{'raw objects':>12}{'dvc add':>9}{'1st repro':>11}{'peak RSS MB':>13}{'no-op repro':>13}"
        f"{'status':>8}{'+1% add':>9}{'+1% repro':>11}{'its peak RSS MB':>17}"
    )
    for layout, objects, add, first, rss, noop, status, add_more, added, added_rss in rows:
        print(
            f"{layout:<8}{objects:>12}{add:>9.1f}{first:>11.1f}{rss:>13.0f}{noop:>13.1f}{status:>8.1f}"
            f"{add_more:>9.1f}{added:>11.1f}{added_rss:>17.0f}"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
