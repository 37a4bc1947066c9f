"""Corpus versions as their manifests: a git revision of a corpus repo, read through DVC, or a published folder.

Files are read with ``DVCFileSystem`` (from the local cache, or the remote when
the cache lacks them), never by checking out the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.project import DATASET, PARAMS
from broadsheet.publish import layout


@dataclass(frozen=True)
class Version:
    label: str
    manifest: pa.Table
    document_schema: str
    params: dict | None
    """The repo's params.yaml at that version; None for a bare published folder."""


def _manifest(files: list[tuple[str, object]], where: str) -> tuple[pa.Table, str]:
    """Concatenate manifest parts (name, opener) and check their schema; also return the document schema version."""
    if not files:
        raise BroadsheetError(f"no manifest in {where}: was it published by broadsheet 0.1 or later?")
    expected = schema.manifest()
    tables = []
    for name, open_part in sorted(files):
        with open_part() as f:
            table = pq.read_table(f)
        if not table.schema.equals(expected.arrow, check_metadata=False):
            raise BroadsheetError(
                f"manifest part {name} in {where} does not have schema {expected.name}.v{expected.version}"
            )
        tables.append(table)
    metadata = tables[0].schema.metadata or {}
    document_schema = metadata.get(b"broadsheet.document_schema", b"unknown").decode()
    return pa.concat_tables(tables).replace_schema_metadata(None), document_schema


def from_folder(folder: str | Path, params_file: str | Path | None = None) -> Version:
    """The version published in ``folder`` (with the params of ``params_file``, when given)."""
    folder = Path(folder)
    parts = [(p.name, lambda p=p: open(p, "rb")) for p in layout.manifest_files(folder)]
    table, document_schema = _manifest(parts, str(folder))
    params = yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) if params_file else None
    return Version(str(folder), table, document_schema, params)


def dvc_fs(repo: str, rev: str | None):
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    from dvc.scm import CloneError, RevError

    fs = DVCFileSystem(repo, rev=rev)
    try:
        _ = fs.repo  # opens lazily: make a bad repo or revision fail here, with a message
    except RevError:
        raise BroadsheetError(f"unknown revision {rev!r} in {repo}") from None
    except CloneError:
        raise BroadsheetError(
            f"cannot open repository {repo}: not a git repository, or a URL that cannot be cloned"
        ) from None
    except DvcException as e:
        raise BroadsheetError(f"cannot open {repo} as a DVC repository: {e}") from None
    return fs


def from_rev(rev: str, repo: str = ".", dataset: str = DATASET) -> Version:
    """The version at git revision ``rev`` (a tag, branch or commit) of ``repo``."""
    fs = dvc_fs(repo, rev)
    where = f"{dataset} at {rev}"
    try:
        names = [p for p in fs.find(f"{dataset}/{layout.MANIFEST}") if p.endswith(".parquet")]
        parts = [(name, lambda name=name: fs.open(name, "rb")) for name in names]
        table, document_schema = _manifest(parts, where)
        params = yaml.safe_load(fs.cat_file(PARAMS)) if fs.exists(PARAMS) else None
    except FileNotFoundError as e:
        raise BroadsheetError(
            f"cannot read {where}: {e} (is the data in the DVC cache or a remote? try dvc fetch)"
        ) from None
    return Version(rev, table, document_schema, params)


def open_version(spec: str, repo: str = ".", dataset: str = DATASET) -> Version:
    """A published folder when ``spec`` is one, else a git revision of ``repo``."""
    if (Path(spec) / layout.MANIFEST).is_dir():
        return from_folder(spec)
    return from_rev(spec, repo, dataset)
