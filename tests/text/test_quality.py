"""Quality filters: each removal names its filter and the measured value."""

from __future__ import annotations

import pytest

from broadsheet.core.params import FilterParams
from broadsheet.text import quality


def rec(text: str, lang: str | None = "en", score: float | None = 0.99) -> dict:
    return {
        "id": "x",
        "text": text,
        "n_words": len(text.split()),
        "lang": lang,
        "lang_score": score,
        "source": {"path": "x.txt"},
    }


@pytest.mark.parametrize(
    "record, params, reason, value",
    [
        (rec("one two"), FilterParams(min_words=3), "too_few_words", 2),
        (rec("w " * 50), FilterParams(max_words=10), "too_many_words", 50),
        (rec("Same para.\n\nSame para.\n\nSame para.\n\nOther."), FilterParams(), "repeated_lines", 0.5),
        (
            rec("Ein deutscher Text mit genug Wörtern darin.", lang="de", score=0.97),
            FilterParams(languages=("en",)),
            "language",
            0.97,
        ),
        (
            rec("no language detected at all here", lang=None, score=None),
            FilterParams(languages=("en",)),
            "language",
            None,
        ),
    ],
)
def test_a_failing_document_is_filtered_with_reason_and_value(record, params, reason, value):
    removed = quality.check(record, params)
    assert (removed.reason, removed.value) == (reason, value)
    assert removed.detail and removed.path == "x.txt"


def test_a_good_document_passes_and_zero_max_words_means_no_limit():
    assert quality.check(rec("w " * 500), FilterParams(max_words=0)) is None
    assert quality.check(rec("A normal text.\n\nWith two paragraphs."), FilterParams(languages=("en", "de"))) is None
