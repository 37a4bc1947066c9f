"""Language identification, offline: CLD2 (pycld2), whose model is compiled into the package.

Only a prefix of the text is read (``prefix_chars``): CLD2's cost grows with
the text and a prefix names the language as well (``scripts/bench_lang.py``
compares detectors and prefix lengths; the figures are in docs/performance.md).
"""

from __future__ import annotations

import pycld2


def detect(text: str, prefix_chars: int = 500) -> tuple[str | None, float | None, list[str]]:
    """``(ISO 639-1 code, share of the text in it from 0 to 1, flags)``; ``(None, None, ...)`` when unknown."""
    sample = text[:prefix_chars]
    try:
        reliable, _, details = pycld2.detect(sample)
    except pycld2.error:  # CLD2 refuses some code points (e.g. a few private-use ones)
        return None, None, ["lang_undetected"]
    _, code, percent, _ = details[0]
    if code == "un":
        return None, None, ["lang_undetected"]
    return code, percent / 100, ([] if reliable else ["lang_unreliable"])
