"""What each stage depends on (code, schemas, settings), in one place, and the record of it a stage writes.

``dvc.yaml`` lists the same dependencies (a test holds the two equal, and checks
them against the files each stage's command really loads), the normalize stage
keys the shards it reuses by the same code, and every stage writes
``provenance.json`` into its output: the toolkit version, the hash of the code
it ran and the settings it read. Later stages and the dataset card quote those
records, so provenance travels with the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from importlib import resources

from broadsheet._version import __version__
from broadsheet.core import schema

ENTRY = ("__init__.py", "_version.py", "cli.py", "command.py")
"""Modules every stage's command loads: the package itself and the command line."""


@dataclass(frozen=True)
class StageDeps:
    code: tuple[str, ...]
    """Files and sub-packages of ``broadsheet`` the stage's command loads (the main process and its workers)."""
    schemas: tuple[str, ...]
    """Names of the schemas (``schemas/{name}.v{version}.json``) it reads or writes."""
    params: tuple[str, ...]
    """Keys of ``params.yaml`` it reads: a section, or a section.key."""


STAGES = {
    "normalize": StageDeps(
        code=(*ENTRY, "core", "engines", "inputs", "normalize", "text"),
        schemas=("document", "filtered", "reject", "takedown"),
        params=("normalize", "filter"),
    ),
    "dedup": StageDeps(
        code=(*ENTRY, "core", "dedup", "engines", "normalize"),
        schemas=("document", "duplicate"),
        params=("dedup.ngram", "dedup.num_perm", "dedup.bands", "dedup.rows", "dedup.threshold", "dedup.seed"),
    ),
    "publish": StageDeps(
        code=(*ENTRY, "core", "dedup", "engines", "normalize", "publish"),
        schemas=("document", "duplicate", "filtered", "manifest", "outcome", "reject", "takedown"),
        params=("publish", "dedup.drop"),
    ),
}
FILE = "provenance.json"
"""The record's name in every stage's output folder."""


def code_files(stage: str) -> list[tuple[str, bytes]]:
    """(path relative to the package, bytes) of the code and schemas ``stage`` depends on, sorted by path."""
    package = resources.files("broadsheet")
    deps = STAGES[stage]
    found: dict[str, bytes] = {}
    for name in deps.code:
        _collect(package / name, name, found)
    for name in deps.schemas:
        file = schema.schema_file(name)
        found[f"schemas/{file.name}"] = file.read_bytes()
    return sorted(found.items())


def _collect(item, relpath: str, found: dict[str, bytes]) -> None:
    if item.is_file():
        found[relpath] = item.read_bytes()
        return
    for child in item.iterdir():
        if child.name != "__pycache__":
            _collect(child, f"{relpath}/{child.name}", found)


def code_sha256(stage: str) -> str:
    """One hash of every file ``code_files`` gives: a change to any of them changes it."""
    digest = hashlib.sha256()
    for path, data in code_files(stage):
        digest.update(f"{path}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def settings(stage: str, params) -> dict:
    """The values of the ``params.yaml`` keys ``stage`` reads, from ``params`` (a ``core.params.Params``),
    nested as in ``params.yaml``."""
    values: dict = {}
    for key in STAGES[stage].params:
        *sections, name = key.split(".")
        section, value = values, params
        for part in sections:
            section, value = section.setdefault(part, {}), getattr(value, part)
        section[name] = _plain(getattr(value, name))
    return values


def merged_settings(records: list[dict]) -> dict:
    """The settings of several stages' records as one ``params.yaml``-shaped mapping, in pipeline order."""
    merged: dict = {}
    for record in records:
        for section, values in record["settings"].items():
            if isinstance(values, dict):
                merged.setdefault(section, {}).update(values)
            else:
                merged[section] = values
    return merged


def _plain(value):
    """A settings value as JSON data: dataclasses as mappings, tuples as lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record(stage: str, params) -> dict:
    """What ``stage`` writes as its ``provenance.json``."""
    return {
        "stage": stage,
        "toolkit": f"broadsheet {__version__}",
        "code_sha256": code_sha256(stage),
        "schemas": [schema.tag(name) for name in STAGES[stage].schemas],
        "settings": settings(stage, params),
    }
