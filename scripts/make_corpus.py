"""Write a synthetic corpus in the seed format, with planted exact and near duplicates.

    python scripts/make_corpus.py OUT --docs 100000 [--seed 1] [--near 0.03] [--exact 0.02] [--cp1252 0.02]

Documents are NNN_<16 hex>.txt files of 1-10 KB: a headline, paragraphs of
Zipf-distributed words with typographic quotes, a '-' line and related
headlines. A share are saved in cp1252; a share are planted copies (exact) or
copies with one sentence changed or one short paragraph dropped (near).
``OUT/planted.json`` lists each planted pair as [original id, copy id, kind].
Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

SYLLABLES = "ka ri to ne sa mu lo pe di va gu ho zi be no ta ra mi ko fe lu si ve da".split()


def vocabulary(rng: np.random.Generator, size: int = 30000) -> np.ndarray:
    parts = rng.integers(0, len(SYLLABLES), size=(size, 4))
    lengths = rng.integers(1, 5, size=size)
    return np.array(["".join(SYLLABLES[p] for p in row[:n]) for row, n in zip(parts, lengths)])


def paragraph(rng: np.random.Generator, words: np.ndarray, n: int) -> str:
    # Half the words Zipf-distributed (function words), half uniform (content words).
    ranks = np.where(
        rng.random(n) < 0.5, np.minimum(rng.zipf(1.3, size=n), len(words)) - 1, rng.integers(0, len(words), n)
    )
    picks = words[ranks]
    text = " ".join(picks)
    if rng.random() < 0.3:
        text = f"“{text[:40]}” {text[40:]}"
    return text[0].upper() + text[1:] + "."


def article(rng: np.random.Generator, words: np.ndarray) -> tuple[str, list[str], list[str]]:
    size = int(rng.integers(1000, 10000))
    paragraphs, length = [], 0
    while length < size:
        p = paragraph(rng, words, int(rng.integers(20, 90)))
        paragraphs.append(p)
        length += len(p) + 1
    title = paragraph(rng, words, int(rng.integers(5, 12))).rstrip(".")
    related = [paragraph(rng, words, int(rng.integers(5, 12))).rstrip(".") for _ in range(int(rng.integers(0, 8)))]
    return title, paragraphs, related


def render(title: str, paragraphs: list[str], related: list[str], dateline: bool) -> str:
    body = list(paragraphs)
    if dateline:
        body[0] = f"LONDON: {body[0]}"
    lines = [title, *body]
    if related:
        lines += ["-", *(r + " -" for r in related[:-1]), related[-1]]
    return "\n".join(lines)


def near_copy(rng: np.random.Generator, words: np.ndarray, paragraphs: list[str]) -> list[str]:
    copy = list(paragraphs)
    i = int(rng.integers(0, len(copy)))
    if len(copy) >= 8 and rng.random() < 0.5:
        shortest = min(range(len(copy)), key=lambda k: len(copy[k]))
        del copy[shortest]  # a short paragraph dropped
    else:
        tokens = copy[i].split()
        start = int(rng.integers(0, max(1, len(tokens) - 8)))
        tokens[start : start + 8] = paragraph(rng, words, 8).rstrip(".").split()  # a sentence changed
        copy[i] = " ".join(tokens)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--near", type=float, default=0.03, help="share of documents that are near copies")
    parser.add_argument("--exact", type=float, default=0.02, help="share of documents that are exact copies")
    parser.add_argument("--cp1252", type=float, default=0.02, help="share of files saved in cp1252")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    words = vocabulary(rng)
    args.out.mkdir(parents=True, exist_ok=True)
    planted, originals = [], []
    for n in range(args.docs):
        key = hashlib.sha256(f"{args.seed}:{n}".encode()).hexdigest()[:16]
        roll = rng.random()
        if originals and roll < args.exact + args.near:
            source_key, title, paragraphs, related = originals[int(rng.integers(0, len(originals)))]
            kind = "exact" if roll < args.exact else "near"
            if kind == "near":
                paragraphs = near_copy(rng, words, paragraphs)
            planted.append([source_key, key, kind])
        else:
            title, paragraphs, related = article(rng, words)
            if len(originals) < 20_000:
                originals.append((key, title, paragraphs, related))
        text = render(title, paragraphs, related, dateline=n % 3 == 0)
        encoding = "cp1252" if rng.random() < args.cp1252 else "utf-8"
        (args.out / f"{n:07d}_{key}.txt").write_bytes(text.encode(encoding))
    (args.out / "planted.json").write_text(json.dumps(planted))
    print(f"{args.docs} documents in {args.out}, {len(planted)} planted duplicates")


if __name__ == "__main__":
    main()
