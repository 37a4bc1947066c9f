"""The dataset card: README.md with Hugging Face YAML metadata, generated, never hand-edited.

YAML is written by a YAML library and Markdown text is escaped, so titles full
of quotes, colons or angle brackets cannot break either. No timestamps.
"""

from __future__ import annotations

import html

import yaml

from broadsheet.params import CardParams
from broadsheet.schema import Schema


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def _md(text: str) -> str:
    """Text safe inside a Markdown paragraph or table cell."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _type_name(spec) -> str:
    if isinstance(spec, str):
        return spec
    if "list" in spec:
        return f"list<{_type_name(spec['list'])}>"
    return "struct"


def _field_rows(fields, prefix: str = ""):
    for f in fields:
        name = f"{prefix}{f['name']}"
        null = "yes" if f.get("nullable", True) else "no"
        yield f"| `{name}` | {_type_name(f['type'])} | {null} | {_md(f.get('description', ''))} |"
        if isinstance(f["type"], dict) and "struct" in f["type"]:
            yield from _field_rows(f["type"]["struct"], f"{name}.")


def _versions(changelog: str) -> str:
    """The changelog's release sections, one heading level down; a placeholder before the first release."""
    sections = changelog.split("\n## ", 1)
    if len(sections) < 2:
        return "No release yet: `broadsheet release VERSION` records one here."
    return "### " + sections[1].replace("\n## ", "\n### ").strip()


def render(info, card: CardParams, metrics: dict, doc: Schema, changelog: str = "") -> str:
    """The card's full text for a published DatasetDict described by ``info`` (a ``datasets.DatasetInfo``)."""
    front = {
        "pretty_name": card.pretty_name,
        "license": card.license,
        "size_categories": [size_category(metrics["documents"])],
        "dataset_info": info._to_yaml_dict(),
    }
    meta = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100)
    splits = "\n".join(
        f"| {name} | {s['rows']} | {s['shards']} | {s['bytes']} |" for name, s in metrics["splits"].items()
    )
    fields = "\n".join(_field_rows(doc.fields))
    citation = f"```bibtex\n{card.citation}\n```" if card.citation else "[More information needed]"
    return f"""---
{meta}---

# {_md(card.pretty_name)}

{_md(card.description)}

## Loading

```python
from datasets import load_from_disk

corpus = load_from_disk("corpus/dataset")  # a DatasetDict: train / validation / test
```

## Dataset structure

Schema `{doc.name}.v{doc.version}` (`schemas/{doc.name}.v{doc.version}.json`); one row per article.

| field | type | nullable | description |
| --- | --- | --- | --- |
{fields}

## Splits

A document's split is a function of its id alone, so it never moves between corpus versions.

| split | rows | shards | bytes |
| --- | --- | --- | --- |
{splits}

## Creation

Built by broadsheet with `dvc repro`: the `normalize` stage parses and normalises the raw
files (rejects are listed with a reason in `corpus/normalized/rejects.parquet`), the `publish` stage writes this folder.
The exact code, parameters and input hashes are recorded in the repository's `dvc.lock`.

## Versions

{_versions(changelog)}

## Citation

{citation}

## Limitations and intended use

[To be written by a person: who collected the articles, under which terms, and what the corpus should not be used for.]
"""
