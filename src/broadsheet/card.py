"""The dataset card: README.md with Hugging Face YAML metadata, generated, never hand-edited.

YAML is written by a YAML library and Markdown text is escaped, so titles full
of quotes, colons or angle brackets cannot break either. No timestamps.
"""

from __future__ import annotations

import html
import json

import yaml

from broadsheet.params import SPLITS, CardParams
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
        yield f"| `{name}` | {_md(_type_name(f['type']))} | {null} | {_md(f.get('description', ''))} |"
        if isinstance(f["type"], dict) and "struct" in f["type"]:
            yield from _field_rows(f["type"]["struct"], f"{name}.")


def _versions(changelog: str) -> str:
    """The changelog's release sections, one heading level down; a placeholder before the first release."""
    sections = changelog.split("\n## ", 1)
    if len(sections) < 2:
        return "No release yet: `broadsheet release VERSION` records one here."
    return "### " + sections[1].replace("\n## ", "\n### ").strip()


def _example(row: dict | None) -> str:
    if row is None:
        return "The corpus is empty."
    shown = dict(row)
    if len(shown["text"]) > 600:
        shown["text"] = shown["text"][:600] + " [...]"
    shown["related"] = shown["related"][:3] + (["[...]"] if len(shown["related"]) > 3 else [])
    return "<pre>\n" + html.escape(json.dumps(shown, indent=2, ensure_ascii=False), quote=False) + "\n</pre>"


def _statistics(metrics: dict) -> str:
    words = metrics["words"]
    languages = ", ".join(f"{_md(k)} {v}" for k, v in sorted(metrics["documents_by_language"].items(), key=lambda kv: -kv[1]))
    return "\n".join(
        [
            f"- Input files: {metrics['input_files']}; published documents: {metrics['documents']}; rejected "
            f"{metrics['rejected']}, skipped {metrics['skipped']}, filtered {metrics['filtered']}, "
            f"duplicates left out {metrics['deduplicated']}.",
            f"- Words per document: 5th percentile {words['p5']}, quartiles {words['p25']} / {words['p50']} / "
            f"{words['p75']}, 95th percentile {words['p95']}; {words['total']} words in all.",
            f"- Documents by language: {languages or 'none'}.",
        ]
    )


def _creation(lock: dict | None, settings: dict | None) -> str:
    lines = [
        "Built with `dvc repro` from the raw files: `normalize` (parse, decode, clean, detect language, filter; rejects",
        "with their reasons in `corpus/normalized/rejects.parquet`), `dedup` (exact and MinHash near duplicates, decisions",
        "in `corpus/dedup/duplicates.parquet`) and `publish` (this folder).",
    ]
    settings = {k: v for k, v in (settings or {}).items() if k != "compute"}  # where it ran: no bearing on the data
    if settings:
        lines += ["", "Parameters (`params.yaml`):", "", "```yaml", yaml.safe_dump(settings, sort_keys=False, allow_unicode=True).strip(), "```"]
    stages = (lock or {}).get("stages", {})
    rows = [
        f"| {_md(stage)} | `{_md(dep['path'])}` | `{dep.get('md5', '')}` |"
        for stage in ("normalize", "dedup")
        for dep in stages.get(stage, {}).get("deps", [])
    ]
    if rows:
        lines += ["", "Inputs and code of the stages before `publish`, from `dvc.lock`:", "", "| stage | path | md5 |", "| --- | --- | --- |", *rows]
    return "\n".join(lines)


def render(
    info,
    card: CardParams,
    metrics: dict,
    doc: Schema,
    changelog: str = "",
    example: dict | None = None,
    lock: dict | None = None,
    settings: dict | None = None,
) -> str:
    """The card's full text for a published DatasetDict described by ``info`` (a ``datasets.DatasetInfo``).

    ``example``: a record to show; ``lock``: the parsed dvc.lock; ``settings``: the parsed params.yaml.
    """
    languages = sorted(lang for lang in metrics.get("documents_by_language", {}) if lang != "unknown")
    front = {
        "pretty_name": card.pretty_name,
        "license": card.license,
        **({"language": languages} if languages else {}),
        "size_categories": [size_category(metrics["documents"])],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in SPLITS],
            }
        ],
        "dataset_info": {"config_name": "default", **info._to_yaml_dict()},
    }
    meta = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100)
    splits = "\n".join(
        f"| {name} | {metrics['splits'][name]['rows']} | {metrics['splits'][name]['shards']} | {metrics['splits'][name]['bytes']} |"
        for name in SPLITS
    )
    fields = "\n".join(_field_rows(doc.fields))
    citation = f"```bibtex\n{card.citation}\n```" if card.citation else "[More information needed]"
    return f"""---
{meta}---

# {_md(card.pretty_name)}

{_md(card.description)}

## Loading

```python
from datasets import load_dataset, load_from_disk

corpus = load_from_disk("corpus/dataset")  # a DatasetDict: train / validation / test (Arrow files)
corpus = load_dataset("corpus/dataset")    # the same rows from the Parquet export in data/
```

The Parquet files (`data/{{split}}-0000i-of-0000N.parquet`) also open directly in pandas, polars or duckdb;
`croissant.json` describes them for tools that read MLCommons Croissant.

## Dataset structure

Schema `{doc.name}.v{doc.version}` (`schemas/{doc.name}.v{doc.version}.json`); one row per article.

| field | type | nullable | description |
| --- | --- | --- | --- |
{fields}

An example record (text and related headlines shortened):

{_example(example)}

## Splits

A document's split is a function of its id alone, so it never moves between corpus versions.

| split | rows | shards | bytes |
| --- | --- | --- | --- |
{splits}

## Statistics

{_statistics(metrics)}

## Creation

{_creation(lock, settings)}

## Versions

{_versions(changelog)}

## Citation

{citation}

## Source data and collection

[To be written by a person: where the articles come from, who collected them, and under which terms.]

## Limitations and intended use

[To be written by a person: known biases and gaps, and what the corpus should not be used for.]
"""
