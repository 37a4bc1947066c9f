"""Loading a corpus version: its published folder fetched through DVC into a cache, opened by ``datasets``."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import schema
from broadsheet.core import takedowns as takedowns_file
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER, Owner, atomic_dir
from broadsheet.core.project import DATASET
from broadsheet.core.state import cache_root
from broadsheet.versions.manifests import dvc_fs, missing_data, toplevel

DOWNLOADED = "dataset"
"""The published folder's name inside its cache entry."""
OWNER = Owner("load", schema.tag("document"), signature=DOWNLOADED, names=frozenset({DOWNLOADED, MARKER}))


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


def load(
    repo: str = ".",
    rev: str | None = None,
    dataset: str = DATASET,
    cache_dir: str | Path | None = None,
    takedowns: bool = True,
):
    """The ``DatasetDict`` of corpus version ``rev`` of ``repo`` (a local path or a git URL).

    With ``rev=None`` and a local repo, the workspace's published dataset. Unless
    ``takedowns`` is False, the documents the repository's newest ``takedowns.csv``
    lists (its workspace's for a local path, its default branch's for a URL) are
    left out, and a warning says how many: an old version loads without them.
    """
    from datasets import load_from_disk

    loaded = load_from_disk(str(fetch(repo, rev, dataset, cache_dir)))
    if not takedowns:
        return loaded
    gone = newest_takedowns(repo)
    if not gone:
        return loaded
    dropped = 0
    for split, part in loaded.items():
        keep = pc.invert(pc.is_in(part.data.column("id"), value_set=pa.array(sorted(gone), pa.string())))
        indices = pc.indices_nonzero(keep).to_pylist()
        dropped += len(part) - len(indices)
        if len(indices) < len(part):
            loaded[split] = part.select(indices, keep_in_memory=True)  # in memory: nothing written beside the data
    if dropped:
        logging.getLogger("broadsheet").warning(
            "broadsheet.load: left out %d document(s) taken down (takedowns.csv of %s); takedowns=False keeps them",
            dropped,
            repo,
        )
    return loaded


def newest_takedowns(repo: str) -> set[str]:
    """The ids in the newest ``takedowns.csv`` of ``repo``: its workspace's (a local clone) or its default
    branch's (a URL); none when it has no such file."""
    if Path(repo).is_dir():
        path = Path(toplevel(repo)) / takedowns_file.FILE
        return set(takedowns_file.read(path))
    fs = dvc_fs(repo, None)
    if not fs.exists(takedowns_file.FILE):
        return set()
    return set(takedowns_file.parse_bytes(fs.cat_file(takedowns_file.FILE), f"{takedowns_file.FILE} of {repo}"))
