"""Property tests: arbitrary bytes never crash the normaliser; normalising twice changes nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadsheet.core.params import NormalizeParams
from broadsheet.core.values import Rejected, Source
from broadsheet.text import words
from broadsheet.text.clean import clean_text
from broadsheet.text.document import normalize_document

PARAMS = NormalizeParams()
SOURCE = Source("/unused", "doc.txt", "0123456789abcdef", None)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

lines = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


def check_record(result) -> None:
    """One record or one reject; a record's counts agree with its text."""
    assert isinstance(result, (dict, Rejected))
    if isinstance(result, Rejected):
        assert result.reason and result.detail
    else:
        if words._SPACELESS.search(result["text"]) is None:  # space-separated scripts: a word is what split() gives
            assert result["n_words"] == len(result["text"].split())
        else:
            assert result["n_words"] >= 1
        assert result["n_chars"] == len(result["text"])


def render(record: dict) -> str:
    """A record written back in the raw format."""
    body = record["text"].split("\n\n")
    if record["dateline"]:
        body[0] = f"{record['dateline']}: {body[0]}"
    parts = [record["title"], *body]
    if record["related"]:
        parts += ["-", *(h + " -" for h in record["related"][:-1]), record["related"][-1]]
    return "\n".join(parts)


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_exactly_one_record_or_reject(raw):
    check_record(normalize_document(raw, SOURCE, PARAMS))


@FAST
@given(st.lists(lines, max_size=12).map("\n".join))
def test_arbitrary_text_gives_exactly_one_record_or_reject(text):
    check_record(normalize_document(text.encode("utf-8"), SOURCE, PARAMS))


@FAST
@given(st.text(max_size=400))
def test_cleaning_is_idempotent(text):
    once, _ = clean_text(text)
    assert clean_text(once) == (once, [])
    assert "  " not in once and all(line == line.strip(" ") for line in once.split("\n"))


@FAST
@given(st.lists(lines, min_size=2, max_size=12).map("\n".join))
def test_normalising_a_normalised_document_changes_nothing(text):
    first = normalize_document(text.encode("utf-8"), SOURCE, PARAMS)
    if isinstance(first, Rejected):
        return
    second = normalize_document(render(first).encode("utf-8"), SOURCE, PARAMS)
    assert isinstance(second, dict)
    assert (second["title"], second["dateline"], second["text"], second["related"]) == (
        first["title"],
        first["dateline"],
        first["text"],
        first["related"],
    )
