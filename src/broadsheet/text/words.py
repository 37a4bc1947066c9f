"""Counting words, in scripts that put spaces between them and in those that do not.

A word is a run of characters between spaces; but Chinese and Japanese put no
spaces between words, so there each Han ideograph counts as a word and so does
each run of hiragana or katakana, and in Thai (no spaces either) the words are
the ones BudouX's model finds (offline: the model ships in the package). Korean
puts spaces between words. Text without those scripts never reaches the slow path.
"""

from __future__ import annotations

import re
from functools import lru_cache

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HIRAGANA = "\u3041-\u309f"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_THAI = "\u0e00-\u0e7f"
_SPACELESS = re.compile(f"[{_HAN}{_HIRAGANA}{_KATAKANA}{_THAI}]")
_UNITS = re.compile(
    f"[{_HAN}]|[{_HIRAGANA}]+|[{_KATAKANA}]+|(?P<thai>[{_THAI}]+)|(?:(?![{_HAN}{_HIRAGANA}{_KATAKANA}{_THAI}])\\w)+"
)
"""The words of a token that holds spaceless script: ideographs, kana runs, Thai runs (segmented), and the runs
of other letters and digits between them (punctuation is no word)."""


_SPACELESS_LEADS = tuple(bytes([lead]) for lead in (0xE0, *range(0xE3, 0xEA), 0xEF, 0xF0))
"""The UTF-8 lead bytes of every spaceless script's characters (Thai: E0; kana and Han: E3-E9, EF, F0).
A byte search for each is many times faster than a regex scan of the text, and most texts hold none."""


def count(body: str) -> int:
    """The words of a cleaned body: paragraphs joined by blank lines, single spaces, no space at a line's ends."""
    if not body:
        return 0
    spaced = body.count(" ") + body.count("\n\n") + 1
    if body.isascii():
        return spaced
    utf8 = body.encode()
    if not any(lead in utf8 for lead in _SPACELESS_LEADS) or _SPACELESS.search(body) is None:
        return spaced
    return sum(_token_words(token) for token in body.replace("\n\n", " ").split(" "))


def _token_words(token: str) -> int:
    if _SPACELESS.search(token) is None:
        return 1
    words = 0
    for unit in _UNITS.finditer(token):
        words += len(_thai().parse(unit.group())) if unit.group("thai") else 1
    return words


@lru_cache(maxsize=1)
def _thai():
    import budoux

    return budoux.load_default_thai_parser()
