"""Words in languages with and without spaces: a Chinese, Japanese or Thai article gets a count that means something."""

from __future__ import annotations

import pytest

from broadsheet.core.params import FilterParams, NormalizeParams
from broadsheet.core.values import Source
from broadsheet.text import quality
from broadsheet.text.document import normalize_document
from broadsheet.text.words import count

SENTENCES = {
    # language: (one sentence, the words broadsheet counts in it, and how)
    "zh": ("国务院总理周二宣布了一系列新措施，以遏制全国能源价格上涨。", 27),  # one per ideograph
    "ja": ("政府は火曜日、全国のエネルギー価格の上昇を抑えるための新たな対策を発表した。", 26),  # ideographs, kana runs
    "th": ("นายกรัฐมนตรีกล่าวว่ารัฐบาลจะออกมาตรการใหม่เพื่อลดราคาพลังงานทั่วประเทศในสัปดาห์หน้า", 17),  # BudouX's words
    "ko": ("정부는 화요일 전국 에너지 가격 상승을 억제하기 위한 새로운 대책을 발표했다.", 11),  # spaces, as in Korean
    "en": ("The government announced new measures on Tuesday to curb rising energy prices.", 12),
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_a_sentence_has_about_as_many_words_as_a_reader_counts(language):
    sentence, expected = SENTENCES[language]
    assert count(sentence) == expected


def test_a_body_counts_the_words_of_each_of_its_paragraphs():
    paragraphs = [SENTENCES[language][0] for language in ("en", "zh", "ko", "th")]
    expected = sum(SENTENCES[language][1] for language in ("en", "zh", "ko", "th"))
    assert count("\n\n".join(paragraphs)) == expected
    assert count("“Quoted,” she said — twice.\n\nAgain.") == 6  # typographic marks: no spaceless script
    assert count("") == 0


def test_punctuation_between_ideographs_is_no_word_and_latin_inside_is_one():
    assert count("东京，大阪。") == 4
    assert count("iPhone发布") == 3


@pytest.mark.parametrize("language", ["zh", "ja", "th"])
def test_a_one_paragraph_article_in_a_language_without_spaces_passes_min_words(language):
    sentence, _ = SENTENCES[language]
    record = normalize_document(
        f"标题 {language}\n{sentence}".encode(), Source("/x", "a.txt", "0" * 16, None), NormalizeParams()
    )
    assert record["n_words"] >= 10
    assert quality.check(record, FilterParams(min_words=5)) is None
