"""The dataset card: README.md with Hugging Face YAML metadata, rendered from ``templates/card.md.j2``.

The YAML header is written by a YAML serializer and every piece of text in the
body goes through an escaping filter, so titles full of quotes, colons or angle
brackets break neither. No timestamps: the same folder gives the same card.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from importlib import resources

import yaml

from broadsheet.core import provenance
from broadsheet.core.params import SPLITS, CardParams
from broadsheet.core.schema import Schema
from broadsheet.publish import layout

EXAMPLE_TEXT_CHARS = 600
EXAMPLE_LINE_CHARS = 300
"""The example record's title, dateline and each related headline are cut to this (a title may be megabytes)."""
EXAMPLE_RELATED = 3


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>10M"


def md(text) -> str:
    """Text safe inside a Markdown paragraph or table cell."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _pre(text: str) -> str:
    """Text safe inside an HTML <pre> block."""
    return html.escape(text, quote=False)


@lru_cache(maxsize=1)
def _template():
    import jinja2

    text = (resources.files("broadsheet.publish") / "templates" / "card.md.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    environment.filters.update(md=md, pre=_pre, yaml=_yaml, sorted_yaml=_sorted_yaml, fenced=fenced)
    return environment.from_string(text)


def _yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _sorted_yaml(data) -> str:
    """YAML with sorted keys: the same text whether ``data`` was just made or read back from a JSON file."""
    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True, width=100)


def front_matter(info, card: CardParams, metrics: dict, data_files: dict[str, list[str]]) -> dict:
    """The card's YAML metadata, as the Hub reads it: ``configs`` list each split's Parquet files, ``data_files``,
    in order (a pattern would give them in the order of their names, which are keys).

    ``configs`` and ``dataset_info`` name only the splits that hold documents: ``datasets.load_dataset``
    cannot load a split of no rows from data files (it raises, and it checks that every split the card names
    was loaded), while the Parquet files of an empty split still open everywhere else.
    """
    languages = sorted(lang for lang in metrics.get("documents_by_language", {}) if lang != "unknown")
    configured = layout.hub_data_files(data_files, {split: metrics["splits"][split]["rows"] for split in SPLITS})
    return {
        "pretty_name": card.pretty_name,
        "license": card.license,
        **({"language": languages} if languages else {}),
        "size_categories": [size_category(metrics["documents"])],
        **({"configs": [{"config_name": "default", "data_files": configured}]} if configured else {}),
        "dataset_info": {"config_name": "default", **_filled_splits(info._to_yaml_dict())},
    }


def _filled_splits(info: dict) -> dict:
    splits = [split for split in info.get("splits", []) if split.get("num_examples")]
    return {**info, "splits": splits} if splits else {k: v for k, v in info.items() if k != "splits"}


def _example(row: dict | None) -> str | None:
    """The example record as JSON text, its text and related headlines shortened."""
    if row is None:
        return None
    shown = dict(row)
    shown["text"] = _cut(shown["text"], EXAMPLE_TEXT_CHARS)
    shown["title"] = _cut(shown["title"], EXAMPLE_LINE_CHARS)
    shown["dateline"] = shown["dateline"] and _cut(shown["dateline"], EXAMPLE_LINE_CHARS)
    related = [_cut(line, EXAMPLE_LINE_CHARS) for line in shown["related"][:EXAMPLE_RELATED]]
    shown["related"] = related + (["[...]"] if len(shown["related"]) > EXAMPLE_RELATED else [])
    return json.dumps(shown, indent=2, ensure_ascii=False)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + " [...]"


def fenced(text: str, info: str = "") -> str:
    """``text`` as a Markdown code block whose fence is longer than any run of backticks in it, so that nothing
    in it can close the block (CommonMark's rule); inside, HTML is shown, not rendered."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _versions(changelog: str) -> str | None:
    """The changelog's release sections, one heading level down; None before the first release."""
    sections = changelog.split("\n## ", 1)
    if len(sections) < 2:
        return None
    return html.escape("### " + sections[1].replace("\n## ", "\n### ").strip(), quote=False)  # hand-edited


def _without_card_text(settings: dict) -> dict:
    publish = {k: v for k, v in settings.get("publish", {}).items() if k != "card"}
    return {**settings, "publish": publish} if "publish" in settings else settings


def render(
    info,
    card: CardParams,
    metrics: dict,
    doc: Schema,
    data_files: dict[str, list[str]],
    changelog: str = "",
    example: dict | None = None,
    stages: list[dict] = (),
) -> str:
    """The card's full text for a published DatasetDict described by ``info`` (a ``datasets.DatasetInfo``).

    ``example``: a record to show; ``stages``: the provenance records of the stages that made the folder;
    ``data_files``: each split's Parquet files in order (``publish.layout.data_files``).
    """
    languages = sorted(metrics["documents_by_language"].items(), key=lambda kv: -kv[1])
    return _template().render(
        front_matter=front_matter(info, card, metrics, data_files),
        card=card,
        metrics=metrics,
        languages=languages,
        schema=doc,
        example=_example(example),
        splits=SPLITS,
        stages=stages,
        settings=_without_card_text(provenance.merged_settings(stages)),
        versions=_versions(changelog),
    )
