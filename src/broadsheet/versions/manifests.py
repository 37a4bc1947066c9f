"""Corpus versions as their manifests: a git revision of a corpus repo, read through DVC, or a published folder.

Files are read with ``DVCFileSystem`` (from the local cache, or the remote when
the cache lacks them), never by checking out the workspace.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from broadsheet.core import schema, yamlfile
from broadsheet.core.errors import BroadsheetError, failing_as, first_line
from broadsheet.core.project import DATASET, PARAMS
from broadsheet.core.shards import read_parquet
from broadsheet.publish import layout


@dataclass(frozen=True)
class Version:
    label: str
    manifest: pa.Table
    document_schema: str
    params: dict | None
    """The repo's params.yaml at that version; None for a bare published folder."""
    outcomes: dict[str, dict] | None = None
    """Id -> what became of each input that is no published document (``publish.outcomes``), the most telling
    when an id has several; None for a version published before outcomes were kept."""


def _manifest(files: list[tuple[str, object]], where: str) -> tuple[pa.Table, str]:
    """Concatenate manifest parts (name, opener) and check their schema; also return the document schema version."""
    if not files:
        raise BroadsheetError(f"no manifest in {where}: was it published by broadsheet 0.1 or later?")
    expected = schema.manifest()
    tables = []
    for name, open_part in sorted(files):
        try:
            with open_part() as f:
                table = _parquet(f)
        except (OSError, pa.ArrowException) as e:
            raise BroadsheetError(
                f"manifest part {name} in {where} is damaged: {str(e).splitlines()[0][:200]}"
            ) from None
        if not table.schema.equals(expected.arrow, check_metadata=False):
            raise BroadsheetError(
                f"manifest part {name} in {where} does not have schema {expected.name}.v{expected.version}"
            )
        tables.append(table)
    metadata = tables[0].schema.metadata or {}
    document_schema = metadata.get(b"broadsheet.document_schema", b"unknown").decode()
    return pa.concat_tables(tables).replace_schema_metadata(None), document_schema


def _parquet(file) -> pa.Table:
    """A small Parquet file read from a Python file object: its bytes first, so that no Arrow thread reads through
    Python (which can abort the interpreter as it exits)."""
    return read_parquet(pa.BufferReader(file.read()))


OUTCOME_ORDER = ("taken_down", "duplicate", "filtered", "rejected", "skipped")
"""Which outcome tells an id's story when it has several (a kept id also claimed by a rejected file)."""


def _outcomes(open_table, where: str) -> dict[str, dict] | None:
    try:
        with open_table() as f:
            table = _parquet(f)
        schema.outcome().check(table)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException, BroadsheetError) as e:
        raise BroadsheetError(f"the outcomes of {where} are damaged: {str(e).splitlines()[0][:200]}") from None
    found: dict[str, dict] = {}
    for row in table.to_pylist():
        held = found.get(row["id"])
        if held is None or OUTCOME_ORDER.index(row["outcome"]) < OUTCOME_ORDER.index(held["outcome"]):
            found[row["id"]] = row
    return found


def _params(data: bytes, where: str) -> dict:
    parsed = yamlfile.parse(data, where)
    if not isinstance(parsed, dict):
        raise BroadsheetError(f"{where} is not a mapping of settings")
    return parsed


def from_folder(folder: str | Path, params_file: str | Path | None = None) -> Version:
    """The version published in ``folder`` (with the params of ``params_file``, when given), named as given."""
    label, folder = str(folder), Path(folder)
    parts = [(p.name, lambda p=p: open(p, "rb")) for p in layout.manifest_files(folder)]
    table, document_schema = _manifest(parts, str(folder))
    params = None
    if params_file:
        with failing_as(f"cannot read {params_file}"):
            data = Path(params_file).read_bytes()
        params = _params(data, str(params_file))
    outcomes = _outcomes(lambda: open(folder / layout.OUTCOMES, "rb"), str(folder))
    return Version(label, table, document_schema, params, outcomes)


def dvc_fs(repo: str, rev: str | None):
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    from dvc.scm import CloneError, RevError

    repo = toplevel(repo)
    if rev is not None and (rev.startswith("-") or not _names_a_commit(repo, rev)):
        raise BroadsheetError(f"unknown revision {rev!r} in {repo} (a version is a commit: a tag, a branch or an id)")
    check_params(repo, rev)
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
        raise BroadsheetError(f"cannot open {repo} as a DVC repository: {str(e)[:200]}") from None
    return fs


def check_params(repo: str, rev: str | None) -> None:
    """Parse the params.yaml of ``rev`` (None: the workspace) the bounded way before DVC opens the revision: DVC
    expands the whole file for its templating, and hangs on one of nested aliases. (A URL DVC clones itself.)"""
    if not Path(repo).is_dir():
        return
    where = f"{PARAMS} at {rev}" if rev else PARAMS
    if rev is None:
        path = Path(repo) / PARAMS
        if not path.is_file():
            return
        with failing_as(f"cannot read {path}"):
            with open(path, "rb") as f:
                data = f.read(yamlfile.MAX_BYTES + 1)
    else:
        spec = f"{rev}:{PARAMS}"  # the caller has checked that rev names a commit (and starts with no "-")
        size = subprocess.run(["git", "cat-file", "-s", spec], cwd=repo, capture_output=True, text=True)
        if size.returncode != 0:
            return  # no params.yaml at that revision
        if int(size.stdout) > yamlfile.MAX_BYTES:  # not read at all: parse would refuse it for its size anyway
            raise BroadsheetError(f"{where} holds {int(size.stdout)} bytes, more than the {yamlfile.MAX_BYTES} allowed")
        data = subprocess.run(["git", "cat-file", "blob", spec], cwd=repo, capture_output=True).stdout
    yamlfile.parse(data, where)


def toplevel(repo: str) -> str:
    """A local path as the root of the git repository it is in (so any folder of a clone works); a URL as is."""
    if not Path(repo).is_dir():
        return repo
    found = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=repo, capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else repo


def _names_a_commit(repo: str, rev: str) -> bool:
    """Whether ``rev`` names a commit of the local repository ``repo`` (a tree or a blob is no version);
    True for a remote URL, whose revisions DVC resolves after cloning."""
    if not Path(repo).is_dir():
        return True
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    return found.returncode == 0 or _unknown_to_git(repo)


def _unknown_to_git(repo: str) -> bool:
    """A folder git cannot read as a repository: let DVC say what it is not."""
    return subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo, capture_output=True).returncode != 0


def missing_data(where: str) -> BroadsheetError:
    return BroadsheetError(
        f"the data of {where} is in neither this DVC cache nor a remote it can reach: run `dvc fetch` "
        "(or `dvc pull`) here, or `dvc push` in the clone that made that version"
    )


def from_rev(rev: str, repo: str = ".", dataset: str = DATASET) -> Version:
    """The version at git revision ``rev`` (a tag, branch or commit) of ``repo``."""
    from dvc.exceptions import DvcException
    from dvc_data.index import DataIndexError

    fs = dvc_fs(repo, rev)
    where = f"{dataset} at {rev}"
    try:
        names = [p for p in fs.find(f"{dataset}/{layout.MANIFEST}") if p.endswith(".parquet")]
        parts = [(name, lambda name=name: fs.open(name, "rb")) for name in names]
        table, document_schema = _manifest(parts, where)
        params = _params(fs.cat_file(PARAMS), f"{PARAMS} at {rev}") if fs.exists(PARAMS) else None
        outcomes = _outcomes(lambda: fs.open(f"{dataset}/{layout.OUTCOMES}", "rb"), where)
    except (FileNotFoundError, DataIndexError):
        raise missing_data(where) from None
    except DvcException as e:  # e.g. DVC's own parse of a damaged params.yaml at that revision
        raise BroadsheetError(f"cannot read {where}: {first_line(e)}") from None
    except RecursionError:
        raise BroadsheetError(f"cannot read {where}: a file of it is nested too deep to parse") from None
    return Version(rev, table, document_schema, params, outcomes)


def open_version(spec: str, repo: str = ".", dataset: str = DATASET) -> Version:
    """A published folder when ``spec`` is a path to one (it holds a ``/``, or starts with ``.``), else a git
    revision of ``repo``: a folder beside the repository named like a tag never hides the tag."""
    if "/" in spec or spec.startswith("."):
        if not (Path(spec) / layout.MANIFEST).is_dir():
            raise BroadsheetError(f"{spec} is not a published folder (no {layout.MANIFEST}/)")
        return from_folder(spec)
    return from_rev(spec, repo, dataset)
