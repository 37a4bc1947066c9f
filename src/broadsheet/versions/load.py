"""Loading a corpus version: its published folder fetched through DVC into a cache, opened by ``datasets``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from broadsheet.core import schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER, Owner, atomic_dir
from broadsheet.core.project import DATASET
from broadsheet.versions.manifests import dvc_fs, missing_data, toplevel

DOWNLOADED = "dataset"
"""The published folder's name inside its cache entry."""
OWNER = Owner("load", f"document.v{schema.VERSION}", signature=DOWNLOADED, names=frozenset({DOWNLOADED, MARKER}))


def cache_root() -> Path:
    base = os.environ.get("BROADSHEET_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "broadsheet"
    )
    return Path(base)


def fetch(repo: str = ".", rev: str | None = None, dataset: str = DATASET, cache_dir: str | Path | None = None) -> Path:
    """A local folder holding ``dataset`` as of ``rev`` of ``repo``, downloaded once per commit into the cache."""
    fs = dvc_fs(repo, rev)
    commit = fs.repo.get_rev() if rev is not None else None
    if commit is None:  # the workspace of a local repo: nothing to download
        local = Path(toplevel(repo)) / dataset
        if not local.is_dir():
            raise BroadsheetError(f"no published dataset at {local}: run dvc repro (or dvc pull) first")
        return local
    key = hashlib.sha256(f"{repo}\0{commit}\0{dataset}".encode()).hexdigest()[:16]
    entry = Path(cache_dir or cache_root()) / "datasets" / f"{Path(dataset).name}-{commit[:12]}-{key}"
    if (entry / DOWNLOADED).is_dir():
        return entry / DOWNLOADED
    from dvc.exceptions import DvcException
    from dvc_data.index import DataIndexError

    try:
        if not fs.isdir(dataset):
            raise BroadsheetError(f"no {dataset} at revision {rev} of {repo}")
        with atomic_dir(entry, OWNER) as partial:  # a download cut short is never mistaken for a whole one
            fs.get(dataset, str(partial / DOWNLOADED), recursive=True)
    except (FileNotFoundError, DataIndexError, DvcException):
        raise missing_data(f"{dataset} at {rev} of {repo}") from None
    return entry / DOWNLOADED


def load(repo: str = ".", rev: str | None = None, dataset: str = DATASET, cache_dir: str | Path | None = None):
    """The ``DatasetDict`` of corpus version ``rev`` of ``repo`` (a local path or a git URL).

    With ``rev=None`` and a local repo, the workspace's published dataset.
    """
    from datasets import load_from_disk

    return load_from_disk(str(fetch(repo, rev, dataset, cache_dir)))
