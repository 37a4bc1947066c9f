"""Quality filters: small, explicit, each a param; a removed document is a Filtered value with its measurement."""

from __future__ import annotations

from broadsheet.core.params import FilterParams
from broadsheet.core.values import Filtered


def repeated_paragraph_ratio(text: str) -> float:
    """Share of paragraphs that repeat an earlier paragraph of the same text (boilerplate, scraping loops)."""
    paragraphs = text.split("\n\n")
    return (len(paragraphs) - len(set(paragraphs))) / len(paragraphs)


def check(record: dict, params: FilterParams) -> Filtered | None:
    """None when ``record`` passes every filter, else the first filter it fails."""

    def removed(reason: str, value: float | None, detail: str) -> Filtered:
        return Filtered(record["id"], record["source"]["path"], reason, value, detail)

    words = record["n_words"]
    if words < params.min_words:
        return removed("too_few_words", words, f"{words} words < min_words {params.min_words}")
    if params.max_words and words > params.max_words:
        return removed("too_many_words", words, f"{words} words > max_words {params.max_words}")
    ratio = repeated_paragraph_ratio(record["text"])
    if ratio > params.max_repeated_paragraphs:
        return removed(
            "repeated_lines", ratio, f"{ratio:.2f} of paragraphs repeated > {params.max_repeated_paragraphs}"
        )
    if params.languages and record["lang"] not in params.languages:
        return removed(
            "language",
            record["lang_score"],
            f"language {record['lang'] or 'unknown'} not in {', '.join(params.languages)}",
        )
    return None
