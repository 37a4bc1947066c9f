"""`broadsheet explain`: one document's story, from the published folders and manifests alone.

What became of it in a version (published in which split and shard, rejected,
filtered, a duplicate of which document, taken down, or never seen), and across
the repository's release tags, where it first appeared and each version where
it changed, left or came back, with the reason. ``--text`` answers "was this
exact text in that version?".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow.compute as pc

from broadsheet.core import params as settings
from broadsheet.core.errors import BroadsheetError, failing_as
from broadsheet.core.project import DATASET
from broadsheet.core.values import Rejected, Source
from broadsheet.publish import layout
from broadsheet.versions import diff, manifests
from broadsheet.versions.load import fetch
from broadsheet.versions.manifests import Version

WORKSPACE = "workspace"


def explain(doc_id: str, repo: str = ".", rev: str | None = None, dataset: str = DATASET) -> dict:
    """The story of document ``doc_id`` in version ``rev`` of ``repo`` (its workspace when None), and across
    the release tags: ``{id, rev, outcome, split, shard, source, detail, history: [{rev, change, why}]}``."""
    folder = fetch(repo, rev, dataset)
    version = manifests.from_folder(folder)
    story = {"id": doc_id, "rev": rev or WORKSPACE, **_outcome(doc_id, version, folder)}
    story["history"] = history(doc_id, repo, dataset)
    return story


def _outcome(doc_id: str, version: Version, folder: Path) -> dict:
    listed = pc.equal(version.manifest.column("id"), doc_id)
    if pc.any(listed).as_py():
        row = version.manifest.filter(listed).to_pylist()[0]
        shard, record = _record(folder, row["split"], doc_id)
        copies = sorted(i for i, o in (version.outcomes or {}).items() if o["kept_id"] == doc_id)
        kept = f"; kept over its duplicates {', '.join(copies)}" if copies else ""
        return {
            "outcome": "published",
            "split": row["split"],
            "shard": shard,
            "source": record["source"] if record else {"path": row["path"], "raw_sha256": row["raw_sha256"]},
            "flags": record["flags"] if record else [],
            "duplicates": copies,
            "detail": f"in {row['split']}, {shard}{kept}",
        }
    found = (version.outcomes or {}).get(doc_id)
    if found is None:
        return {"outcome": "absent", "split": None, "shard": None, "source": None, "detail": "no input of this version"}
    outcome = "rejected" if found["outcome"] == "skipped" else found["outcome"]
    return {
        "outcome": outcome,
        "split": None,
        "shard": None,
        "source": {"path": found["path"]} if found["path"] else None,
        "reason": found["reason"],
        "value": found["value"],
        "kept_id": found["kept_id"],
        "detail": diff.outcome_text(found),
    }


def _record(folder: Path, split: str, doc_id: str) -> tuple[str | None, dict | None]:
    """The Arrow shard of ``split`` that holds ``doc_id`` and its record, read shard by shard."""
    for path in layout.arrow_files(folder, split):
        table = layout.read_arrow(path)
        rows = table.filter(pc.equal(table.column("id"), doc_id))
        if rows.num_rows:
            return f"{split}/{path.name}", rows.slice(0, 1).to_pylist()[0]
    return None, None


def release_tags(repo: str) -> list[str]:
    """The repository's tags, oldest first (the order ``broadsheet release`` made them); none for a URL."""
    if not Path(repo).is_dir():
        return []
    listed = subprocess.run(
        ["git", "tag", "--sort=creatordate"], cwd=manifests.toplevel(repo), capture_output=True, text=True
    )
    return [tag for tag in listed.stdout.splitlines() if tag]


def history(doc_id: str, repo: str = ".", dataset: str = DATASET) -> list[dict]:
    """Each release where ``doc_id`` first appeared, changed, left or came back, with why."""
    events, before = [], None
    for tag in release_tags(repo):
        try:
            version = manifests.from_rev(tag, repo, dataset)
        except BroadsheetError as e:
            events.append({"rev": tag, "change": "unknown", "why": str(e)})
            continue
        listed = version.manifest.filter(pc.equal(version.manifest.column("id"), doc_id)).to_pylist()
        row = listed[0] if listed else None
        held = before is not None and before[1] is not None
        if row and not held:
            change = "added" if before is None or not any(e["change"] == "added" for e in events) else "returned"
            why = "first published" if before is None else diff.added_why(doc_id, before[0])
            events.append({"rev": tag, "change": change, "why": why})
        elif row and held and row["content_sha256"] != before[1]["content_sha256"]:
            joined = {f"{k}_a": v for k, v in before[1].items()} | {f"{k}_b": v for k, v in row.items()}
            events.append({"rev": tag, "change": "changed", "why": diff.changed_text(diff.change_cause(joined))})
        elif not row and held:
            events.append({"rev": tag, "change": "removed", "why": diff.removed_why(doc_id, version)})
        before = (version, row)
    return events


def find_text(path: str | Path, repo: str = ".", rev: str | None = None, dataset: str = DATASET) -> dict:
    """Whether the text of the raw file at ``path``, normalised with the settings of version ``rev``, is in that
    version, and under which ids: ``{rev, text_sha256, ids}``, or why the file gives no text."""
    from broadsheet.text.document import normalize_document

    folder = fetch(repo, rev, dataset)
    if rev is None:
        params = settings.load(_workspace_params(repo))
    else:
        params = settings.parse(manifests.from_rev(rev, repo, dataset).params or {})
    with failing_as(f"cannot read {path}"):
        raw = Path(path).read_bytes()
    name = Path(path).name
    record = normalize_document(raw, Source(str(path), name, "0" * 16, None), params.normalize)
    if isinstance(record, Rejected):
        return {"rev": rev or WORKSPACE, "text_sha256": None, "ids": [], "detail": f"{record.reason}: {record.detail}"}
    version = manifests.from_folder(folder)
    same = version.manifest.filter(pc.equal(version.manifest.column("text_sha256"), record["text_sha256"]))
    ids = same.column("id").to_pylist()
    return {"rev": rev or WORKSPACE, "text_sha256": record["text_sha256"], "ids": ids, "detail": ""}


def _workspace_params(repo: str) -> str | None:
    path = Path(manifests.toplevel(repo)) / "params.yaml"
    return str(path) if path.is_file() else None


def format_text(story: dict) -> str:
    """The story for people."""
    lines = [
        f"{story['id']} at {story['rev']}: {story['outcome']}" + (f" ({story['detail']})" if story["detail"] else "")
    ]
    source = story.get("source")
    if source:
        shown = ", ".join(f"{k} {v}" for k, v in source.items() if v is not None)
        lines.append(f"  raw file: {shown}")
    if story.get("flags"):
        lines.append(f"  flags: {', '.join(story['flags'])}")
    if story["history"]:
        lines.append("  history:")
        lines += [f"    {event['rev']}: {event['change']} ({event['why']})" for event in story["history"]]
    else:
        lines.append("  history: no release tag holds it")
    return "\n".join(lines) + "\n"
