"""What changed between two corpus versions, per document, from their manifests alone."""

from __future__ import annotations

import pyarrow.compute as pc

from broadsheet.core.display import printable
from broadsheet.core.params import SPLITS
from broadsheet.versions.manifests import Version

RAW_EDITED = "raw_edited"
NORMALISATION_CHANGED = "normalisation_changed"


def change_cause(row: dict) -> dict:
    """Why a document changed: its raw file was edited, or the same file was normalised differently."""
    return {
        "cause": RAW_EDITED if row["raw_sha256_a"] != row["raw_sha256_b"] else NORMALISATION_CHANGED,
        "text_changed": row["text_sha256_a"] != row["text_sha256_b"],
    }


def outcome_text(row: dict) -> str:
    """An input's outcome, for a person: "taken down: copyright claim", "a near duplicate of 6b86...", ..."""
    if row["outcome"] == "taken_down":
        return f"{row['detail']}: {row['reason']}"
    if row["outcome"] == "duplicate":
        article = "an" if row["reason"][:1] in "aeiou" else "a"
        return f"{article} {row['reason']} duplicate of {row['kept_id']} (similarity {row['value']:.3f})"
    if row["outcome"] == "filtered":
        return f"filtered by {row['reason']}: {row['detail']}"
    return f"{row['outcome']}: {row['reason']} ({row['detail']})"


def removed_why(doc_id: str, b: Version) -> str:
    """Why a document of ``a`` is not in ``b``."""
    if b.outcomes is None:
        return "no reason recorded (published before broadsheet kept outcomes)"
    if doc_id in b.outcomes:
        return "now " + outcome_text(b.outcomes[doc_id])
    return "its raw file is gone"


def added_why(doc_id: str, a: Version) -> str:
    """Why a document of ``b`` was not in ``a``."""
    if a.outcomes is None:
        return "no reason recorded (published before broadsheet kept outcomes)"
    if doc_id not in a.outcomes:
        return "a new raw file"
    before = a.outcomes[doc_id]
    if before["outcome"] == "duplicate":
        return f"was {outcome_text(before)}, which is gone or changed"
    if before["outcome"] == "filtered":
        return f"was {outcome_text(before)}: its text or the filter settings changed"
    return f"was {outcome_text(before)}"


def _flatten(mapping, prefix: str = "") -> dict:
    flat = {}
    for key, value in (mapping or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _params_diff(a: dict | None, b: dict | None) -> dict:
    if a is None or b is None:
        return {"compared": False, "changed": {}}
    fa, fb = _flatten(a), _flatten(b)
    changed = {k: {"a": fa.get(k), "b": fb.get(k)} for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)}
    return {"compared": True, "changed": changed}


def compare(a: Version, b: Version) -> dict:
    """The per-document difference from version ``a`` to version ``b`` (plain data, JSON-ready)."""
    joined = a.manifest.join(b.manifest, keys="id", join_type="full outer", left_suffix="_a", right_suffix="_b")
    rows = sorted(joined.to_pylist(), key=lambda r: r["id"])
    added = [r for r in rows if r["split_a"] is None]
    removed = [r for r in rows if r["split_b"] is None]
    both = [r for r in rows if r["split_a"] is not None and r["split_b"] is not None]
    changed = [r for r in both if r["content_sha256_a"] != r["content_sha256_b"]]
    moved = [r for r in both if r["split_a"] != r["split_b"]]
    splits = {}
    for name in SPLITS:
        splits[name] = {
            "a": pc.sum(pc.equal(a.manifest.column("split"), name)).as_py() or 0,
            "b": pc.sum(pc.equal(b.manifest.column("split"), name)).as_py() or 0,
            "added": sum(r["split_b"] == name for r in added),
            "removed": sum(r["split_a"] == name for r in removed),
            "changed": sum(r["split_b"] == name for r in changed),
        }
    return {
        "a": a.label,
        "b": b.label,
        "documents": {"a": a.manifest.num_rows, "b": b.manifest.num_rows},
        "added": [r["id"] for r in added],
        "removed": [r["id"] for r in removed],
        "changed": [r["id"] for r in changed],
        "changed_why": {r["id"]: change_cause(r) for r in changed},
        "added_why": {r["id"]: added_why(r["id"], a) for r in added},
        "removed_why": {r["id"]: removed_why(r["id"], b) for r in removed},
        "moved_split": [{"id": r["id"], "from": r["split_a"], "to": r["split_b"]} for r in moved],
        "unchanged": len(both) - len(changed),
        "paths": {r["id"]: r["path_b"] or r["path_a"] for r in (*added, *removed, *changed)},
        "split_of": {r["id"]: r["split_b"] or r["split_a"] for r in (*added, *removed, *changed, *moved)},
        "splits": splits,
        "schema": {"a": a.document_schema, "b": b.document_schema, "changed": a.document_schema != b.document_schema},
        "params": _params_diff(a.params, b.params),
    }


def changed_text(why: dict) -> str:
    cause = why["cause"].replace("_", " ")
    return f"{cause}; {'text' if why['text_changed'] else 'title, dateline or related only'}"


def _listing(title: str, ids: list[str], report: dict, limit: int, why: dict[str, str]) -> list[str]:
    if not ids:
        return []
    lines = [f"{title} ({len(ids)}):"]
    for doc_id in ids[:limit]:
        lines.append(f"  {doc_id}  {report['paths'][doc_id]}  [{why[doc_id]}]")
    if len(ids) > limit:
        lines.append(f"  ... and {len(ids) - limit} more (--json lists all)")
    return lines


def format_text(report: dict, limit: int = 20) -> str:
    """The report for people: summary, per-split table, then the documents themselves."""
    a, b = report["a"], report["b"]
    wa, wb = max(12, len(a) + 2), max(12, len(b) + 2)  # a long name (a folder's path) keeps its columns apart
    docs = report["documents"]
    lines = [
        f"corpus {a} -> {b}",
        f"  documents: {docs['a']} -> {docs['b']}  (+{len(report['added'])} added, -{len(report['removed'])} removed, "
        f"{len(report['changed'])} changed, {report['unchanged']} unchanged)",
        "",
        f"  {'split':<12}{a:>{wa}}{b:>{wb}}{'added':>9}{'removed':>9}{'changed':>9}",
    ]
    for name, s in report["splits"].items():
        lines.append(f"  {name:<12}{s['a']:>{wa}}{s['b']:>{wb}}{s['added']:>9}{s['removed']:>9}{s['changed']:>9}")
    lines.append("")
    moved = report["moved_split"]
    lines.append(f"  moved between splits: {len(moved) if moved else 'none'}")
    for m in moved[:limit]:
        lines.append(f"    {m['id']}  {m['from']} -> {m['to']}")
    schema = report["schema"]
    lines.append(
        f"  schema: {schema['a']} -> {schema['b']}" if schema["changed"] else f"  schema: {schema['a']} (unchanged)"
    )
    params = report["params"]
    if not params["compared"]:
        lines.append("  params: not compared (a published folder carries none)")
    elif not params["changed"]:
        lines.append("  params: unchanged")
    else:
        lines.append("  params changed:")
        lines.extend(f"    {k}: {v['a']!r} -> {v['b']!r}" for k, v in params["changed"].items())
    lines.append("")
    changed = {doc_id: changed_text(why) for doc_id, why in report["changed_why"].items()}
    lines += _listing("added", report["added"], report, limit, report["added_why"])
    lines += _listing("removed", report["removed"], report, limit, report["removed_why"])
    lines += _listing("changed", report["changed"], report, limit, changed)
    return "\n".join(printable(line) for line in lines).rstrip() + "\n"
