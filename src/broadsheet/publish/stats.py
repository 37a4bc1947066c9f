"""Corpus statistics for metrics.json and the plot data `dvc plots` renders."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core.columns import value_counts

PERCENTILES = (5, 25, 50, 75, 95)
LENGTH_BINS = (0, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)


def bin_labels() -> list[str]:
    """ "    0-49", "   50-99", ..., "10000+": the lower bounds padded, so that sorting the labels as text (as a
    plot's category axis does) keeps the bins in order."""
    width = len(str(LENGTH_BINS[-1]))
    uppers = [f"-{high - 1}" for high in LENGTH_BINS[1:]] + ["+"]
    return [f"{low:>{width}}{upper}" for low, upper in zip(LENGTH_BINS, uppers)]


class Stats:
    """Lengths and languages of the published documents, gathered batch by batch."""

    def __init__(self) -> None:
        self._words: list[np.ndarray] = []
        self.languages: Counter = Counter()

    def add(self, batch: pa.RecordBatch) -> None:
        self._words.append(batch.column("n_words").to_numpy(zero_copy_only=False))
        self.languages.update(value_counts(pc.fill_null(batch.column("lang"), "unknown")))

    @property
    def words(self) -> np.ndarray:
        return np.concatenate(self._words) if self._words else np.zeros(0, np.int64)

    def metrics(self) -> dict:
        words = self.words
        percentiles = {f"p{p}": int(np.percentile(words, p, method="lower")) if len(words) else 0 for p in PERCENTILES}
        return {
            "words": {**percentiles, "total": int(words.sum())},
            "documents_by_language": dict(sorted(self.languages.items())),
        }

    def length_histogram(self) -> list[dict]:
        """Documents per bin of words, every bin (an empty one too) a row labelled by its range."""
        counts = np.histogram(self.words, bins=[*LENGTH_BINS, np.iinfo(np.int64).max])[0]
        return [{"words": label, "documents": int(n)} for label, n in zip(bin_labels(), counts)]

    def language_counts(self) -> list[dict]:
        return [
            {"language": lang, "documents": n}
            for lang, n in sorted(self.languages.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


def write_csv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_plots(folder: Path, stats: Stats) -> None:
    """``lengths.csv`` (documents per word-count bin) and ``languages.csv`` (documents per language)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "lengths.csv", stats.length_histogram(), ("words", "documents"))
    write_csv(folder / "languages.csv", stats.language_counts(), ("language", "documents"))
