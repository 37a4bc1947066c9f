"""What a 1% change costs through `dvc repro`, stage by stage, against the first run and a fresh one.

    python scripts/bench_change.py [--docs 20000] [--corpus DIR] [--added 0.01] [--edited 2] [--per-stage]
                                   [--per-shard N [--packed DIR]]

In a git + DVC project with this repo's whole pipeline (dvc.yaml, params.yaml,
schemas, and a copy of src/ that the stages run, so the code being changed meanwhile does not count) and the
raw folder tracked by `dvc add corpus/raw`, it times `dvc repro` (the whole command, the peak RSS of its process
tree, and each stage's own time as broadsheet reports it):
  1. the first run;
  2. after adding ``--added`` new documents and editing ``--edited`` of the old ones
     (and `dvc add corpus/raw`, not timed): the second run, which reuses what did not change;
  3. a fresh run on the same inputs (every output removed first, then `dvc repro -f`),
and checks that the second run's outputs are byte-identical to the fresh run's. "dvc" in the table is what
DVC itself took: the whole command less the stages. ``--per-stage`` runs each stage as its own
`dvc repro -s STAGE`, in order, to give each stage's peak RSS too (DVC's share then counts three starts).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

import yaml

from bench_dvc import corpus_and_extra, link_files, pack, sh, timed

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUTPUTS = ("corpus/normalized", "corpus/dedup", "corpus/dataset")


def project(root: Path, repo: Path = REPO) -> list[str]:
    """A git + DVC project with the pipeline of the checkout ``repo``; its stage names in order."""
    root.mkdir(parents=True)
    for name in ("dvc.yaml", "params.yaml", "CHANGELOG.md", "takedowns.csv"):
        shutil.copy(repo / name, root / name)
    shutil.copytree(repo / "schemas", root / "schemas")
    shutil.copytree(repo / "src", root / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    (root / ".gitignore").write_text("__pycache__/\n")
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    sh(root, "dvc", "config", "core.analytics", "false")
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


SUMMARY = re.compile(r"^(\w+): .*; ([0-9.]+) s$")


def repro(root: Path, *extra: str, stages: list[str] | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Stage -> seconds it reported, with "all" (the whole `dvc repro`) and "dvc" (the rest); and the peak RSS MiB
    of the process tree, "all" and, with ``stages`` (each run as its own `dvc repro -s`), each stage's."""
    seconds, peaks, found = 0.0, {}, {}
    for stage in stages or [None]:
        with tempfile.TemporaryFile("w+") as log:
            command = ["dvc", "repro", "-q", *extra, *(["-s", stage] if stage else [])]
            took, peaks[stage or "all"] = timed(root, *command, stderr=log)
            log.seek(0)
            found |= {m[1]: float(m[2]) for line in log if (m := SUMMARY.match(line.strip()))}
        seconds += took
    peaks["all"] = max(peaks.values())
    found |= {"dvc": seconds - sum(found.values()), "all": seconds}
    print(f"dvc repro {' '.join(extra)}: " + ", ".join(f"{k} {v:.1f} s" for k, v in found.items()), flush=True)
    return found, peaks


def edit(path: Path) -> None:
    """A changed second paragraph, written as a new file (the corpus's files are hard links)."""
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"An edited opening sentence. " + lines[2]
    path.unlink()
    path.write_bytes(b"\n".join(lines))


def change(files: list[Path], extra: list[Path], edited: int, raw: Path, per_shard: int, work: Path) -> None:
    """Add ``extra`` and edit ``edited`` of ``files`` in ``raw``: loose files (``per_shard`` 0), or a new tar
    shard and the shards of the edited files packed again."""
    step = max(1, len(files) // max(1, edited))
    chosen = [i for i in range(step // 2, len(files), step)][:edited]
    if not per_shard:
        link_files(extra, raw)
        for i in chosen:
            edit(raw / files[i].name)
        return
    pack(extra, raw, per_shard, prefix="zz-added")
    work.mkdir()
    for shard in sorted({i // per_shard for i in chosen}):
        members = files[shard * per_shard : (shard + 1) * per_shard]
        link_files(members, work / str(shard))
        for i in chosen:
            if i // per_shard == shard:
                edit(work / str(shard) / files[i].name)
        (raw / f"shard-{shard:05d}.tar.gz").unlink()  # the same name, packed again: a new file, not a hard link
        with tarfile.open(raw / f"shard-{shard:05d}.tar.gz", "w:gz", compresslevel=6) as tar:
            for member in members:
                tar.add(work / str(shard) / member.name, arcname=member.name)


def differences(a: Path, b: Path) -> list[str]:
    """The files under ``a`` and ``b`` that differ or are in one only."""
    found = []
    compared = filecmp.dircmp(a, b)
    found += [str(a / n) for n in compared.left_only + compared.right_only + compared.funny_files]
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    found += [str(a / n) for n in mismatch + errors]
    for sub in compared.common_dirs:
        found += differences(a / sub, b / sub)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--corpus", type=Path, help="a folder of NNN_<key>.txt files (default: generate --docs)")
    parser.add_argument("--added", type=float, default=0.01, help="share of new documents added")
    parser.add_argument("--edited", type=int, default=2, help="documents edited")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to run (default: this)")
    parser.add_argument("--per-shard", type=int, default=0, help="documents per gzip tar shard (default: loose files)")
    parser.add_argument("--per-stage", action="store_true", help="each stage its own `dvc repro -s`, for its peak RSS")
    parser.add_argument("--packed", type=Path, help="the corpus already packed in --per-shard tar shards (else: here)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-change-"))
    files, extra = corpus_and_extra(args.corpus, args.docs, tmp, args.added)

    root = tmp / "project"
    stages = project(root, args.repo.resolve())
    apart = stages if args.per_stage else None
    os.environ["PYTHONPATH"] = str(root / "src")
    raw = root / "corpus" / "raw"
    if args.per_shard and args.packed:
        link_files(sorted(args.packed.glob("shard-*.tar.gz")), raw)
    elif args.per_shard:
        pack(files, raw, args.per_shard)
    else:
        link_files(files, raw)
    sh(root, "dvc", "add", "-q", "corpus/raw")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "corpus")
    first = repro(root, stages=apart)
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "first run")

    change(files, extra, args.edited, raw, args.per_shard, tmp / "edited")
    sh(root, "dvc", "add", "-q", "corpus/raw")
    second = repro(root, stages=apart)
    kept = tmp / "second"
    kept.mkdir()
    for out in OUTPUTS:
        shutil.move(root / out, kept / Path(out).name)
    fresh = repro(root, "-f", stages=apart)
    different = [d for out in OUTPUTS for d in differences(kept / Path(out).name, root / out)]

    layout = f"gzip tar shards of {args.per_shard:,}" if args.per_shard else "loose files"
    print(f"\n{len(files):,} documents ({layout}), +{len(extra):,} added, {args.edited} edited; {os.cpu_count()} cores")
    print(f"{'seconds':<18}{'1st':>8}{'2nd':>8}{'fresh':>8}{'2nd/1st':>9}{'2nd/fresh':>11}")
    for row in [*stages, "dvc", "all"]:
        a, b, c = (run[0].get(row, 0.0) for run in (first, second, fresh))
        print(f"{row:<18}{a:>8.1f}{b:>8.1f}{c:>8.1f}{b / a if a else 0:>9.3f}{b / c if c else 0:>11.3f}")
    for row in [*(stages if args.per_stage else []), "all"]:
        print(f"{'peak MiB ' + row:<18}" + "".join(f"{run[1][row]:>8.0f}" for run in (first, second, fresh)))
    if different:
        print(f"NOT byte-identical to the fresh run: {len(different)} files, e.g. {different[:5]}")
        raise SystemExit(1)
    print("the second run's outputs are byte-identical to the fresh run's")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
