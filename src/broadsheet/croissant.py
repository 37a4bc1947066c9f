"""``croissant.json``: an MLCommons Croissant description of the Parquet export.

One FileObject per Parquet file (with its sha256), one FileSet and one
RecordSet per split, one Field per schema column, typed from the schema; list
columns are arrays, struct columns have sub-fields. Written by hand from the
schema (mlcroissant, a large package, is needed only to validate it).
"""

from __future__ import annotations

from pathlib import Path

from broadsheet.params import CardParams
from broadsheet.schema import Schema

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


def _field(spec: dict, record_set: str, file_set: str, column: str, json_path: str | None = None) -> dict:
    field = {
        "@type": "cr:Field",
        "@id": f"{record_set}/{spec['name']}",
        "name": spec["name"],
        "description": spec.get("description", ""),
    }
    kind = spec["type"]
    if isinstance(kind, dict) and "struct" in kind:
        field["subField"] = [
            _field(sub, field["@id"], file_set, column, f"{json_path}.{sub['name']}" if json_path else sub["name"])
            for sub in kind["struct"]
        ]
        return field
    if isinstance(kind, dict) and "list" in kind:
        field["cr:isArray"] = True
        field["cr:arrayShape"] = "-1"
        kind = kind["list"]
    field["dataType"] = DATA_TYPES[kind]
    source = {"fileSet": {"@id": file_set}, "extract": {"column": column}}
    if json_path:
        source["transform"] = {"jsonPath": json_path}
    field["source"] = source
    return field


def describe(card: CardParams, version: str, files: dict[str, list[tuple[Path, str]]], doc: Schema) -> dict:
    """The Croissant JSON-LD for the Parquet ``files`` of each split (relative path, sha256)."""
    distribution, record_sets = [], []
    for split, split_files in files.items():
        for path, sha256 in split_files:
            distribution.append(
                {"@type": "cr:FileObject", "@id": str(path), "name": str(path), "contentUrl": str(path),
                 "encodingFormat": PARQUET, "sha256": sha256}
            )
        file_set = f"{split}-parquet"
        distribution.append(
            {"@type": "cr:FileSet", "@id": file_set, "name": file_set, "encodingFormat": PARQUET,
             "includes": f"data/{split}-*.parquet"}
        )
        record_sets.append(
            {"@type": "cr:RecordSet", "@id": split, "name": split,
             "description": f"The {split} split, one record per document.",
             "field": [_field(spec, split, file_set, spec["name"]) for spec in doc.fields]}
        )
    description = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": card.pretty_name,
        "description": card.description,
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": card.license,
        "version": version,
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if card.homepage:
        description["url"] = card.homepage
    if card.citation:
        description["citeAs"] = card.citation
    return description
