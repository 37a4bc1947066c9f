"""The normalize stage's accounting: every input file counted once, as a record, a reject or a filtered document."""

from __future__ import annotations

from collections import Counter

from broadsheet.core.values import Filtered, Rejected
from broadsheet.inputs.walk import NOT_A_DOCUMENT
from broadsheet.normalize.folder import COUNTED
from broadsheet.normalize.task import ShardResult


class Tally:
    """Counts for metrics.json, accumulated shard by shard."""

    def __init__(self):
        self.documents = 0
        self.rejected: list[Rejected] = []
        self.filtered: list[Filtered] = []
        self.by_column = {column: Counter() for column in COUNTED}

    def add(self, shard: ShardResult) -> None:
        self.documents += shard.rows
        self.rejected.extend(shard.rejected)
        self.filtered.extend(shard.filtered)
        for column, counts in shard.counts.items():
            self.by_column[column].update(counts)

    def metrics(self, shards: int, input_files: int, taken_down: int = 0, unmatched: list[str] = ()) -> dict:
        """``unmatched``: the ids takedowns.csv lists that no source has."""
        skipped = sum(1 for r in self.rejected if r.reason == NOT_A_DOCUMENT)
        rejected = Counter(r.reason for r in self.rejected if r.reason != NOT_A_DOCUMENT)
        accounted = self.documents + len(self.rejected) + len(self.filtered) + taken_down
        if input_files != accounted:
            raise AssertionError(
                f"accounting: {input_files} files != {accounted} documents, rejects, filtered, taken down"
            )
        return {
            "input_files": input_files,
            "documents": self.documents,
            "rejected": sum(rejected.values()),
            "skipped": skipped,
            "filtered": len(self.filtered),
            "taken_down": taken_down,
            "takedowns_unmatched": list(unmatched),
            "rejected_by_reason": dict(sorted(rejected.items())),
            "filtered_by_reason": dict(sorted(Counter(f.reason for f in self.filtered).items())),
            "shards": shards,
            "documents_by_encoding": dict(sorted(self.by_column["encoding"].items())),
            "documents_by_flag": dict(sorted(self.by_column["flags"].items())),
            "documents_by_language": dict(sorted(self.by_column["lang"].items())),
        }
