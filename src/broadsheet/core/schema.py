"""The record schemas, read from the JSON files in ``schemas/``.

The JSON is the single source of truth for the fields: this module parses it
into ``Field`` values and turns those into a ``pyarrow.Schema`` (with the
schema and toolkit versions in its metadata) and a ``datasets.Features``; the
card's field table and ``croissant.json`` walk the same ``Field`` values.
Code that builds a row names the fields it fills, and ``Schema.check`` holds
every table to the schema before it is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

from broadsheet._version import __version__
from broadsheet.core.errors import BroadsheetError

PRIMITIVES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
}
VERSIONS = {"document": "2"}
"""The version of each schema this toolkit writes, where it is not 1. A version adds fields or changes one's
meaning; an older one's file stays in ``schemas/``, for reading what an older toolkit wrote."""


def version(name: str) -> str:
    return VERSIONS.get(name, "1")


def tag(name: str) -> str:
    """The schema and version a folder of ``name`` records holds, e.g. ``document.v2``."""
    return f"{name}.v{version(name)}"


@dataclass(frozen=True)
class Type:
    """A field's type: a primitive (``PRIMITIVES``), a list of one type, or a struct of fields."""

    kind: str
    """A primitive's name, ``list`` or ``struct``."""
    item: Type | None = None
    fields: tuple[Field, ...] = ()

    def __str__(self) -> str:
        return f"list<{self.item}>" if self.kind == "list" else self.kind

    def arrow(self) -> pa.DataType:
        if self.kind == "list":
            return pa.list_(self.item.arrow())
        if self.kind == "struct":
            return pa.struct([f.arrow() for f in self.fields])
        return PRIMITIVES[self.kind]


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    nullable: bool
    description: str

    def arrow(self) -> pa.Field:
        return pa.field(
            self.name, self.type.arrow(), nullable=self.nullable, metadata={"description": self.description}
        )


def _type(spec) -> Type:
    if isinstance(spec, str):
        if spec not in PRIMITIVES:
            raise BroadsheetError(f"unknown type {spec!r} in schema (known: {', '.join(PRIMITIVES)})")
        return Type(spec)
    if isinstance(spec, dict) and set(spec) == {"list"}:
        return Type("list", item=_type(spec["list"]))
    if isinstance(spec, dict) and set(spec) == {"struct"}:
        return Type("struct", fields=tuple(_field(f) for f in spec["struct"]))
    raise BroadsheetError(f"bad type {spec!r} in schema")


def _field(spec: dict) -> Field:
    return Field(spec["name"], _type(spec["type"]), spec.get("nullable", True), spec.get("description", ""))


@dataclass(frozen=True)
class Schema:
    """A named, versioned record schema."""

    name: str
    version: str
    description: str
    fields: tuple[Field, ...]
    arrow: pa.Schema

    @property
    def names(self) -> list[str]:
        return self.arrow.names

    def walk(self) -> Iterator[tuple[str, Field]]:
        """Every field with its dotted path (``source.path``), depth first, in schema order."""

        def visit(fields: tuple[Field, ...], prefix: str) -> Iterator[tuple[str, Field]]:
            for f in fields:
                yield prefix + f.name, f
                if f.type.kind == "struct":
                    yield from visit(f.type.fields, f"{prefix}{f.name}.")

        return visit(self.fields, "")

    def features(self):
        """The ``datasets.Features`` for this schema (imported lazily: ``datasets`` is slow to import)."""
        from datasets import Features

        return Features.from_arrow_schema(self.arrow)

    def check(self, table: pa.Table | pa.RecordBatch) -> None:
        """Raise BroadsheetError unless ``table`` has exactly this schema's fields, types and non-null columns."""
        got = {f.name: f.type for f in table.schema}
        if list(got) != self.names:
            missing = [n for n in self.names if n not in got]
            extra = [n for n in got if n not in self.names]
            detail = (
                f"missing {', '.join(missing)}"
                if missing
                else f"unexpected {', '.join(extra)}"
                if extra
                else "columns out of order"
            )
            raise BroadsheetError(f"data does not match schema {self.name}.v{self.version}: {detail}")
        for field, column in zip(self.arrow, table.columns):
            if not _same_type(got[field.name], field.type):
                raise BroadsheetError(
                    f"data does not match schema {self.name}.v{self.version}: "
                    f"{field.name} is {got[field.name]}, not {field.type}"
                )
            if not field.nullable and column.null_count:
                raise BroadsheetError(f"schema {self.name}.v{self.version}: field {field.name!r} may not be null")


def _same_type(a: pa.DataType, b: pa.DataType) -> bool:
    """Type equality that ignores what a list's item is called ('item' in Arrow, 'element' in some Parquet writers)."""
    if pa.types.is_list(a) and pa.types.is_list(b):
        return _same_type(a.value_type, b.value_type)
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return [f.name for f in a] == [f.name for f in b] and all(_same_type(x.type, y.type) for x, y in zip(a, b))
    return a == b


def from_json(text: str) -> Schema:
    """Build a Schema from the JSON text of a ``schemas/*.json`` file."""
    spec = json.loads(text)
    metadata = {
        "broadsheet.schema": f"{spec['name']}.v{spec['version']}",
        "broadsheet.version": __version__,
    }
    fields = tuple(_field(f) for f in spec["fields"])
    arrow = pa.schema([f.arrow() for f in fields], metadata=metadata)
    return Schema(spec["name"], str(spec["version"]), spec.get("description", ""), fields, arrow)


def schema_file(name: str, number: str | None = None):
    """The packaged ``schemas/{name}.v{number}.json`` (by default the version this toolkit writes; a symlink to the
    repo's ``schemas/`` in a checkout)."""
    return resources.files("broadsheet") / "schemas" / f"{name}.v{number or version(name)}.json"


@cache
def load(name: str, number: str | None = None) -> Schema:
    path = schema_file(name, number)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BroadsheetError(f"no schema {name}.v{number or version(name)} (looked for {path})") from None
    return from_json(text)


def named(text: str) -> Schema | None:
    """The schema a tag such as ``document.v1`` names, if this toolkit has its file."""
    found = re.fullmatch(r"([a-z]+)\.v([0-9]{1,4})", text)
    try:
        return load(*found.groups()) if found else None
    except BroadsheetError:
        return None


def document() -> Schema:
    return load("document")


def reject() -> Schema:
    return load("reject")


def manifest() -> Schema:
    return load("manifest")


def filtered() -> Schema:
    return load("filtered")


def duplicate() -> Schema:
    return load("duplicate")


def takedown() -> Schema:
    return load("takedown")


def outcome() -> Schema:
    return load("outcome")
