"""`broadsheet release VERSION`: record, tag and push one corpus version.

Refuses unless the work tree is clean and the pipeline up to date; then writes
the CHANGELOG section (the diff against the previous release tag), re-runs the
pipeline so the card's "Versions" section shows it, commits, tags and pushes
the data to the default DVC remote.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from broadsheet.core import schema
from broadsheet.core.display import counted, printable
from broadsheet.core.errors import BroadsheetError, failing_as
from broadsheet.core.params import SPLITS
from broadsheet.core.project import CHANGELOG, CHANGES, DATASET, PARAMS
from broadsheet.core.shards import PARQUET_OPTIONS
from broadsheet.publish.changelog import HEADER as CHANGELOG_HEADER
from broadsheet.versions import diff, manifests

VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+/-]{0,99}")
"""A version names a git tag, a changelog heading and the card's Versions: no markup, no option-like name."""


def _run(name: str, cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise BroadsheetError(f"{name} failed: {_said(result)}")
    return result


def _said(result: subprocess.CompletedProcess) -> str:
    """The line that says what went wrong: DVC's own ``ERROR:`` line (not the support footer after it),
    else the last one."""
    said = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in said if line.startswith("ERROR:")]
    return (errors or said or [f"exit status {result.returncode}"])[-1][:300]


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(f"git {args[0]}", ["git", *args], root, check)


def _dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(f"dvc {args[0]}", [sys.executable, "-m", "dvc", *args], root, check)


def _code(text: str) -> str:
    return "`" + str(text).replace("`", "'") + "`"


def changelog_section(
    version: str, counts: dict[str, int], previous: str | None = None, report: dict | None = None
) -> str:
    """The Markdown section for ``version``: documents per split and, after the first release, what changed."""
    total = sum(counts.values())
    feed = f"{CHANGES}/{version}.parquet"
    lines = [
        f"## {version}",
        "",
        f"Changes, a row per document: [`{feed}`]({feed}) (`dvc get REPO {feed} --rev {version}`).",
        "",
    ]
    if report is None:
        per_split = ", ".join(f"{name} {n}" for name, n in counts.items())
        lines += [f"First release: {counted(total, 'document')} ({per_split}).", ""]
        return "\n".join(lines)
    lines += [
        f"Compared with {previous}: {counted(total, 'document')} (+{len(report['added'])} added, "
        f"-{len(report['removed'])} removed, {len(report['changed'])} changed, "
        f"{len(report['moved_split'])} moved between splits).",
        "",
        "| split | documents | added | removed | changed |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {n} | {s['b']} | {s['added']} | {s['removed']} | {s['changed']} |" for n, s in report["splits"].items()
    ]
    lines.append("")
    schema = report["schema"]
    lines.append(f"Schema: {schema['b']}" + (f" (was {schema['a']})." if schema["changed"] else "."))
    changed_params = report["params"]["changed"]
    if changed_params:
        lines.append(
            "Params changed: "
            + "; ".join(f"{_code(k)} {_code(v['a'])} → {_code(v['b'])}" for k, v in changed_params.items())
            + "."
        )
    lines.append("")
    return "\n".join(lines)


def change_feed(current: manifests.Version, report: dict | None) -> pa.Table:
    """One row per document that changed since the previous release (every document, for the first)."""
    if report is None:
        ids, splits = (current.manifest.column(c).to_pylist() for c in ("id", "split"))
        rows = [{"id": i, "change": "added", "why": "first release", "split": s} for i, s in zip(ids, splits)]
    else:
        changed = {i: diff.changed_text(why) for i, why in report["changed_why"].items()}
        moved = {
            m["id"]: f"moved from {m['from']} to {m['to']} (the split ratios changed)" for m in report["moved_split"]
        }
        rows = [
            {"id": i, "change": change, "why": why[i], "split": report["split_of"][i]}
            for change, why in (
                ("added", report["added_why"]),
                ("removed", report["removed_why"]),
                ("changed", changed),
                ("moved", moved),
            )
            for i in sorted(why)
        ]
    found = pa.Table.from_pylist(rows, schema=schema.load("change").arrow)
    schema.load("change").check(found)
    return found


def _prepend(changelog: Path, section: str) -> None:
    text = changelog.read_text(encoding="utf-8") if changelog.exists() else CHANGELOG_HEADER
    head, sep, rest = text.partition("\n## ")
    changelog.write_text(
        head.rstrip() + "\n\n" + section.rstrip() + "\n" + (f"\n## {rest}" if sep else ""), encoding="utf-8"
    )


def _check_ready(root: Path, version: str, push: bool) -> None:
    if (
        not VERSION_NAME.fullmatch(version)
        or _git(root, "check-ref-format", f"refs/tags/{version}", check=False).returncode
    ):
        raise BroadsheetError(
            f"{printable(repr(version)[:60])} is not a version name: letters, digits and . _ + / - (not first), "
            "as in v2 or 2026.1"
        )
    if not _git(root, "rev-parse", "--verify", "-q", "HEAD", check=False).stdout.strip():
        raise BroadsheetError("the repository has no commit yet: commit the pipeline first")
    manifests.check_params(str(root), None)  # before the first dvc command, which would hang on a hostile file
    if _git(root, "rev-parse", "--verify", "-q", f"refs/tags/{version}", check=False).returncode == 0:
        raise BroadsheetError(f"tag {version} already exists: choose a new version name")
    if version == "HEAD" or _git(root, "rev-parse", "--verify", "-q", version, check=False).returncode == 0:
        raise BroadsheetError(f"{version} already names a branch or commit here: choose a version name of its own")
    dirty = _git(root, "status", "--porcelain").stdout.splitlines()
    if dirty:
        raise BroadsheetError(
            f"the work tree is not clean ({len(dirty)} paths, e.g. {dirty[0][3:]}): commit or stash first"
        )
    if push and _dvc(root, "remote", "default", check=False).returncode:
        raise BroadsheetError(
            "no default DVC remote: add one with `dvc remote add -d NAME URL`, or release with --no-push"
        )
    stale = _dvc(root, "status", "--quiet", check=False)
    if stale.returncode:
        raise BroadsheetError("the pipeline is not up to date (see `dvc status`): run `dvc repro` and commit first")
    untracked = _untracked_inputs(root)
    if untracked:
        raise BroadsheetError(
            f"{len(untracked)} file(s) the pipeline reads are missing from what git and DVC record of its inputs "
            f"(e.g. {untracked[0]}: ignored by git outside a dvc add'ed folder, or hidden by .dvcignore), so a clone "
            "of the tag could not reproduce this version: remove them, or track them"
        )


TOOLKIT_CODE = "src/broadsheet/"
"""Where this toolkit's own code is, when the corpus lives in its repository: Python reads only the sources there
(a bytecode cache git ignores is rebuilt from them), so it is not checked like data."""


def _pipeline_inputs(root: Path) -> list[str]:
    """The data dvc.yaml's stages depend on that no stage writes: what a clone must hold to reproduce them."""
    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages", {})
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    deps, outs = set(), set()
    for stage in stages.values():
        deps.update(d for d in stage.get("deps", []) if isinstance(d, str))
        outs.update(next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", []))
    return sorted(d for d in deps - outs if not d.startswith(TOOLKIT_CODE))


def _untracked_inputs(root: Path) -> list[str]:
    """Files under the pipeline's data inputs that a clone would not hold or DVC does not see, sorted: those git
    ignores outside a ``dvc add``ed folder, and those ``.dvcignore`` hides (DVC would not re-run when they change)."""
    inputs = _pipeline_inputs(root)
    if not inputs:
        return []
    listed = _git(root, "ls-files", "--others", "--ignored", "--exclude-standard", "-z", "--", *inputs).stdout
    added = [i for i in inputs if (root / f"{i}.dvc").is_file()]  # git ignores a `dvc add`ed folder whole
    found = {p for p in listed.split("\0") if p and not any(p == d or p.startswith(d + "/") for d in added)}
    if _has_dvcignore_patterns(root):
        on_disk = [
            os.path.relpath(os.path.join(folder, name), root)
            for i in inputs
            for folder, _, names in os.walk(root / i)
            for name in names
        ]
        checked = subprocess.run(
            [sys.executable, "-m", "dvc", "check-ignore", "--stdin"],
            cwd=root,
            input="\n".join(on_disk) + "\n",
            capture_output=True,
            text=True,
        )
        found.update(line for line in checked.stdout.splitlines() if line)
    return sorted(found)


def _has_dvcignore_patterns(root: Path) -> bool:
    for path in root.rglob(".dvcignore"):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            return True
    return False


def repository_root(repo: str | Path) -> Path:
    """The root of the local git repository ``repo`` is in (any folder of it); a one-line error for anything else."""
    if not Path(repo).is_dir():
        raise BroadsheetError(f"{repo} is not a folder: releasing needs a local clone of the corpus repository")
    found = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=repo, capture_output=True, text=True)
    if found.returncode:
        raise BroadsheetError(f"{repo} is not inside a git repository")
    return Path(found.stdout.strip())


def release(
    version: str, repo: str | Path = ".", push: bool = True, dataset: str = DATASET, allow_empty: bool = False
) -> dict:
    """Release ``version`` of the corpus in ``repo``; return the version, the previous release (or None), whether
    the data was pushed, the diff against the previous release (or None) and the number of documents.

    Every check comes before the first change to the repository: a refused release leaves nothing behind.
    """
    root = repository_root(repo)
    _check_ready(root, version, push)
    described = _git(root, "describe", "--tags", "--abbrev=0", check=False)
    previous = described.stdout.strip() if described.returncode == 0 else None
    current = manifests.from_folder(root / dataset, root / PARAMS)
    current = dataclasses.replace(current, label=version)
    splits = current.manifest.column("split").to_pylist()
    counts = {name: splits.count(name) for name in SPLITS}
    report = diff.compare(manifests.from_rev(previous, str(root), dataset), current) if previous else None
    if report is not None and not allow_empty and not _changed(report):
        raise BroadsheetError(f"nothing changed since {previous}: no release made (--allow-empty to release anyway)")
    section = changelog_section(version, counts, previous, report)
    _commit_release(root, version, section, change_feed(current, report))
    _git(root, "tag", "-a", version, "-m", f"corpus {version}")
    if push:
        try:
            _dvc(root, "push")
        except BroadsheetError as e:
            raise BroadsheetError(f"{version} is committed and tagged, but {e}; run `dvc push` again") from None
    return {"version": version, "previous": previous, "pushed": push, "diff": report, "documents": sum(counts.values())}


def _commit_release(root: Path, version: str, section: str, feed: pa.Table) -> None:
    """Write the change feed and the changelog section, re-run the pipeline (the card shows the section) and
    commit; if any of it fails, the two files are put back as they were."""
    changelog = root / CHANGELOG
    before = changelog.read_text(encoding="utf-8") if changelog.exists() else None
    path = root / CHANGES / f"{version}.parquet"
    try:
        with failing_as(f"cannot write {path}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(feed, path, **PARQUET_OPTIONS)
        _prepend(changelog, section)
        _dvc(root, "repro")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"Release {version}")
    except BaseException:
        path.unlink(missing_ok=True)
        if before is None:
            changelog.unlink(missing_ok=True)
        else:
            changelog.write_text(before, encoding="utf-8")
        raise


def _changed(report: dict) -> bool:
    """Whether a diff between two versions found any change: documents, splits, schema or settings."""
    lists = ("added", "removed", "changed", "moved_split")
    return any(report[k] for k in lists) or report["schema"]["changed"] or bool(report["params"]["changed"])
