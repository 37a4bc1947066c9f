"""What became of every input that is not a published document: the table ``explain`` and ``diff`` read.

Built from the normalize output's rejects, filtered documents and takedowns and
from the dedup decisions publish acted on, so that a published folder tells the
story of each of its inputs on its own, at any revision, without the stage
folders before it.
"""

from __future__ import annotations

import pyarrow as pa

from broadsheet.core import schema

NOT_A_DOCUMENT = "not_a_document"
"""The reject reason of a file whose name matches none of normalize.include: skipped, not rejected."""


def table(rejects: pa.Table, filtered: pa.Table, dropped: dict[str, dict], takedowns: pa.Table) -> pa.Table:
    """One row per input that did not become a published document, sorted by id, then path."""
    rows = [
        {
            "id": r["id"],
            "path": r["path"],
            "outcome": "skipped" if r["reason"] == NOT_A_DOCUMENT else "rejected",
            "reason": r["reason"],
            "detail": r["detail"],
            "value": None,
            "kept_id": None,
        }
        for r in rejects.to_pylist()
    ]
    rows += [{**f, "outcome": "filtered", "kept_id": None} for f in filtered.to_pylist()]
    rows += [
        {
            "id": d["id"],
            "path": d["path"],
            "outcome": "duplicate",
            "reason": d["kind"],
            "detail": f"a {d['kind']} duplicate of {d['cluster']} (similarity {d['similarity']:.3f})",
            "value": d["similarity"],
            "kept_id": d["cluster"],
        }
        for d in dropped.values()
    ]
    rows += [
        {
            "id": t["id"],
            "path": None,
            "outcome": "taken_down",
            "reason": t["reason"],
            "detail": f"taken down on {t['date']}",
            "value": None,
            "kept_id": None,
        }
        for t in takedowns.to_pylist()
    ]
    rows.sort(key=lambda r: (r["id"], r["path"] or "", r["outcome"]))
    found = pa.Table.from_pylist(rows, schema=schema.outcome().arrow)
    schema.outcome().check(found)
    return found
