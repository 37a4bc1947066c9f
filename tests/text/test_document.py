"""The seed article and the messy variants of it real corpora contain."""

from __future__ import annotations

import codecs
import hashlib

import pytest

from broadsheet.core.params import NormalizeParams
from broadsheet.core.values import Rejected, Source
from broadsheet.text.document import normalize_document
from helpers import SEED_NAME

PARAMS = NormalizeParams()
SOURCE = Source(path="/unused", relpath=SEED_NAME, id="812283e286aaf8e1", ordinal=0)

# Pinned from the real seed article: change these only with a deliberate normaliser change.
SEED_TEXT_SHA256 = "dff9a6fdfd6f39f18beecfe2add8b3e5c5c4a7b011d5de9879db1c26c5fe3430"
SEED_RELATED_FIRST = "Winter Olympics 2026: Top Contenders Poised To Win Gold In Women’s Figure Skating"
SEED_RELATED_LAST = "David E. Kelley Breaks Vow To Cast Wife Michelle Pfeiffer In 'Margo's Got Money Troubles'"


def record(raw: bytes | str, params: NormalizeParams = PARAMS, source: Source = SOURCE):
    return normalize_document(raw.encode("utf-8") if isinstance(raw, str) else raw, source, params)


@pytest.fixture(scope="module")
def seed(seed_bytes):
    return record(seed_bytes)


def test_seed_title_and_dateline(seed):
    assert seed["title"] == "Kremlin reaffirms opposition to European peacekeepers’ deployment in Ukraine"
    assert seed["dateline"] == "MOSCOW/WASHINGTON"
    assert seed["text"].startswith("The Kremlin, asked about an assertion by US President Donald Trump")


def test_seed_has_16_related_headlines_without_trailing_dash(seed):
    assert len(seed["related"]) == 16
    assert seed["related"][0] == SEED_RELATED_FIRST
    assert seed["related"][-1] == SEED_RELATED_LAST
    assert not any(h.endswith("-") for h in seed["related"])


def test_seed_related_headlines_are_not_in_text(seed):
    for headline in seed["related"]:
        assert headline not in seed["text"]
    assert seed["text"].endswith("Macron told a joint news conference with Trump.")


def test_seed_paragraphs_are_joined_by_a_blank_line(seed, seed_text):
    body_lines = seed_text.split("\n")[1 : seed_text.split("\n").index("-")]
    assert seed["text"].count("\n\n") == len(body_lines) - 1


def test_seed_acute_accent_apostrophe_is_fixed_and_flagged(seed):
    assert "´" not in seed["text"]
    assert "Russia’s invasion" in seed["text"]
    assert "apostrophe_fixed" in seed["flags"]


def test_seed_pinned_values(seed, seed_bytes):
    assert seed["id"] == "812283e286aaf8e1"
    assert seed["text_sha256"] == SEED_TEXT_SHA256
    assert seed["text_sha256"] == hashlib.sha256(seed["text"].encode()).hexdigest()
    assert seed["n_chars"] == len(seed["text"])
    assert seed["n_words"] == len(seed["text"].split())
    assert seed["source"] == {
        "path": SEED_NAME,
        "ordinal": 0,
        "raw_bytes": 4470,
        "raw_sha256": hashlib.sha256(seed_bytes).hexdigest(),
        "encoding": "utf-8",
    }
    assert seed["flags"] == ["apostrophe_fixed"]
    assert seed["lang"] == "en"


def test_apostrophe_fix_is_a_param(seed_bytes):
    kept = record(seed_bytes, NormalizeParams(fix_acute_apostrophe=False))
    assert "Russia´s invasion" in kept["text"]
    assert "apostrophe_fixed" not in kept["flags"]


@pytest.mark.parametrize(
    "variant, flag",
    [
        (lambda t: t.replace("\n", "\r\n").encode("utf-8"), "crlf"),
        (lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"), "bom_stripped"),
        (lambda t: t.encode("cp1252"), "decoded_cp1252"),
        (lambda t: t.encode("utf-16"), "decoded_utf16"),
        (lambda t: t.replace("\n", "\r").encode("utf-8"), "cr_newlines"),
        (lambda t: (t.replace("\n", "\n\n") + "\n\n").encode("utf-8"), "blank_line_paragraphs"),
        (lambda t: t.replace(" ", "  ").replace("\n", "  \n").encode("utf-8"), "spaces_collapsed"),
        (lambda t: t.replace("Kremlin", "Kreml\u200bin").encode("utf-8"), "zero_width_removed"),
        (lambda t: t.replace("US President", "US\u00a0President").encode("utf-8"), "unicode_spaces_replaced"),
    ],
    ids=["crlf", "bom", "cp1252", "utf16", "cr", "blank-lines", "space-runs", "zero-width", "nbsp"],
)
def test_same_article_in_another_representation_gives_the_same_record(seed, seed_text, variant, flag):
    other = record(variant(seed_text))
    assert flag in other["flags"]
    for field in ("title", "dateline", "text", "text_sha256", "related", "n_words"):
        assert other[field] == seed[field], field


def test_latin1_file_with_a_byte_cp1252_leaves_undefined_is_decoded_as_latin1_and_flagged():
    text = "Café prices\nPrices at the café on the corner rose by £3 today, the owner said, blaming the cost of milk."
    rec = record(text.encode("latin-1").replace(b" today", b" \x81today"))
    assert rec["source"]["encoding"] == "iso8859-1"
    assert "decoded_iso8859_1" in rec["flags"]
    assert rec["title"] == "Café prices"
    assert "£3 today" in rec["text"]  # the stray C1 control is removed


@pytest.mark.parametrize(
    "text, encoding",
    [
        ("Новости дня\nМосква: Кремль подтвердил свою позицию по вопросу миротворцев в Украине.", "cp1251"),
        ("Новости дня\nМосква: Кремль подтвердил свою позицию по вопросу миротворцев в Украине.", "koi8-r"),
        ("Wiadomości\nŁódź: Prezydent powiedział, że zażółć gęślą jaźń, a rząd się zgodził.", "cp1250"),
        ("ニュース\n東京：政府は新しい政策を発表しました。経済への影響が注目されています。", "shift_jis"),
    ],
)
def test_other_legacy_encodings_are_detected(text, encoding):
    rec = record(text.encode(encoding))
    assert rec["title"] + "\n" + rec["text"] == text
    assert any(flag.startswith("decoded_") for flag in rec["flags"])


def test_mojibake_is_repaired_and_flagged(seed_text):
    garbled = seed_text.encode("utf-8").decode("cp1252", errors="replace")
    rec = record(garbled.encode("utf-8"))
    assert "mojibake_fixed" in rec["flags"]
    assert "Russia’s sovereignty" in rec["text"]


def test_correct_text_is_not_flagged_as_mojibake():
    rec = record("Über die Straße\nDie Größe des Gebäudes überrascht — „sehr“, sagt Ångström. Æsop’s fable.")
    assert "mojibake_fixed" not in rec["flags"]


def test_language_is_detected_with_a_score(seed):
    assert seed["lang"] == "en"
    assert 0.9 <= seed["lang_score"] <= 1.0


def test_control_characters_can_be_a_reason_to_reject():
    result = record("Title\nBody\x07 with a bell.", NormalizeParams(control_chars="reject"))
    assert isinstance(result, Rejected) and result.reason == "control_chars"


def test_undecodable_bytes_are_rejected():
    raw = bytes(range(0x80, 0x100)) * 20
    result = record(raw, NormalizeParams(legacy_encodings=()))
    assert isinstance(result, Rejected) and result.reason == "undecodable"


def test_cp1252_pound_sign_is_decoded():
    rec = record("Budget\nThe cost is \u00a35m, says \u201cthe minister\u201d.".encode("cp1252"))
    assert rec["text"] == "The cost is £5m, says “the minister”."
    assert rec["source"]["encoding"] == "cp1252"


def test_article_without_dash_section_has_no_related_and_is_flagged():
    rec = record("Title\nBody one.\nBody two.")
    assert rec["related"] == []
    assert rec["text"] == "Body one.\n\nBody two."
    assert "no_related_section" in rec["flags"]


def test_dash_with_nothing_after_it_gives_empty_related():
    rec = record("Title\nBody one.\n-\n\n")
    assert rec["related"] == []
    assert rec["text"] == "Body one."
    assert "empty_related_section" in rec["flags"]


def test_wrapped_paragraphs_separated_by_blank_lines_are_unwrapped():
    rec = record("Title\n\nFirst paragraph\ncontinues here.\n\nSecond one.\n")
    assert rec["text"] == "First paragraph continues here.\n\nSecond one."


def test_text_is_nfc_normalised():
    rec = record("Cafe\u0301 owners\nThe cafe\u0301 opened.")
    assert rec["title"] == "Café owners"
    assert rec["text"] == "The café opened."
    assert "unicode_nfc" in rec["flags"]


def test_control_characters_are_removed_and_flagged():
    rec = record("Title\nBody\x07 with\x1b a bell.")
    assert rec["text"] == "Body with a bell."
    assert "control_chars_removed" in rec["flags"]


@pytest.mark.parametrize(
    "first, dateline, text",
    [
        ("LONDON (Reuters) - Prices rose.", "LONDON (Reuters)", "Prices rose."),
        ("NEW YORK: Stocks fell.", "NEW YORK", "Stocks fell."),
        ("The US: a view.", None, "The US: a view."),
        ("Prices rose in LONDON: again.", None, "Prices rose in LONDON: again."),
    ],
)
def test_dateline(first, dateline, text):
    rec = record(f"Title\n{first}")
    assert (rec["dateline"], rec["text"]) == (dateline, text)


def test_dateline_extraction_is_a_param():
    rec = record("Title\nLONDON: Prices rose.", NormalizeParams(extract_dateline=False))
    assert rec["dateline"] is None
    assert rec["text"] == "LONDON: Prices rose."


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty"),
        (b"  \n\t\r\n \xc2\xa0\n", "whitespace_only"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(256)) * 4, "binary"),
        (b"-\nRelated one -\nRelated two", "no_title"),
        (b"Just a headline\n-\nRelated", "no_body"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(raw, reason):
    result = record(raw)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.path == SEED_NAME
    assert result.detail


def test_flags_are_sorted_and_unique(seed_text):
    rec = record(b"\xef\xbb\xbf" + seed_text.replace("\n", "\r\n").encode("utf-8"))
    assert rec["flags"] == sorted(set(rec["flags"]))


def test_utf8_bom_before_cp1252_bytes_is_stripped_and_both_flagged():
    rec = record(b"\xef\xbb\xbf" + "Budget\nCosts \u00a35m.".encode("cp1252"))
    assert rec["text"] == "Costs £5m."
    assert {"bom_stripped", "decoded_cp1252"} <= set(rec["flags"])


def test_a_utf32_file_with_a_bom_is_read_as_utf32_not_utf16():
    rec = record("Emoji \U0001f600 headline\nLONDON: The body of the article.".encode("utf-32"))
    assert rec["title"] == "Emoji \U0001f600 headline"
    assert rec["source"]["encoding"] == "utf-32" and "decoded_utf32" in rec["flags"]


@pytest.mark.parametrize(
    "bom", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]
)
def test_a_file_that_is_only_a_byte_order_mark_is_empty_whatever_the_mark(bom):
    rejected = record(bom)
    assert (rejected.reason, rejected.detail) == ("empty", "only a byte-order mark")


def test_directional_overrides_and_isolates_are_removed_and_flagged():
    spoofed = (
        "Minister \u202eseriger\u202c resigns\nLONDON: The \u2066minister\u2069 said nothing.\n-\nRelated \u202dlink"
    )
    rec = record(spoofed)
    assert rec["title"] == "Minister seriger resigns"
    assert rec["text"] == "The minister said nothing." and rec["related"] == ["Related link"]
    assert "bidi_controls_removed" in rec["flags"]
    assert not any(c in rec["title"] + rec["text"] for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
