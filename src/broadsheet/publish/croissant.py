"""``croissant.json``: an MLCommons Croissant description of the Parquet export.

One FileObject per Parquet file (with its sha256), one FileSet and one
RecordSet per split, one Field per schema column, typed from the schema; list
columns are arrays, struct columns have sub-fields. Written by hand from the
schema (mlcroissant, a large package, is needed only to validate it).
"""

from __future__ import annotations

from pathlib import Path

from broadsheet.core.params import CardParams
from broadsheet.core.schema import Field, Schema
from broadsheet.publish import layout

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
DATA_TYPES = {
    "string": "sc:Text",
    "int64": "sc:Integer",
    "int32": "sc:Integer",
    "float32": "sc:Float",
    "float64": "sc:Float",
    "bool": "sc:Boolean",
}
PARQUET = "application/x-parquet"


def _field(field: Field, record_set: str, file_set: str, column: str, json_path: str | None = None) -> dict:
    described = {
        "@type": "cr:Field",
        "@id": f"{record_set}/{field.name}",
        "name": field.name,
        "description": field.description,
    }
    kind = field.type
    if kind.kind == "struct":
        described["subField"] = [
            _field(sub, described["@id"], file_set, column, f"{json_path}.{sub.name}" if json_path else sub.name)
            for sub in kind.fields
        ]
        return described
    if kind.kind == "list":
        described["cr:isArray"] = True
        described["cr:arrayShape"] = "-1"
        kind = kind.item
    described["dataType"] = DATA_TYPES[kind.kind]
    source = {"fileSet": {"@id": file_set}, "extract": {"column": column}}
    if json_path:
        source["transform"] = {"jsonPath": json_path}
    described["source"] = source
    return described


def describe(
    card: CardParams, version: str, files: dict[str, list[tuple[Path, str]]], doc: Schema, fingerprint: str
) -> dict:
    """The Croissant JSON-LD for the Parquet ``files`` of each split (relative path, sha256); ``fingerprint``
    (the corpus's, ``publish.manifest.fingerprint``) is its schema.org identifier."""
    distribution, record_sets = [], []
    for split, split_files in files.items():
        for path, sha256 in split_files:
            distribution.append(
                {
                    "@type": "cr:FileObject",
                    "@id": str(path),
                    "name": str(path),
                    "contentUrl": str(path),
                    "encodingFormat": PARQUET,
                    "sha256": sha256,
                }
            )
        file_set = f"{split}-parquet"
        distribution.append(
            {
                "@type": "cr:FileSet",
                "@id": file_set,
                "name": file_set,
                "encodingFormat": PARQUET,
                "includes": layout.export_pattern(split),
            }
        )
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": split,
                "name": split,
                "description": f"The {split} split, one record per document.",
                "field": [_field(field, split, file_set, field.name) for field in doc.fields],
            }
        )
    description = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": card.pretty_name,
        "description": card.description,
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": card.license,
        "version": version,
        "identifier": fingerprint,
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if card.homepage:
        description["url"] = card.homepage
    if card.citation:
        description["citeAs"] = card.citation
    return description
