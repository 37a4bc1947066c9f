"""What publish writes, decided before a text is read: from the records' light columns, the records kept, each
one's split, and the content-defined shards of each split, each with its key (``reuse.shard_key``).

A shard names its rows by where they are in the normalize output (a normalized shard and positions in it): the
task that writes it reads them there itself, so no text passes between processes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from broadsheet.core import columns
from broadsheet.core.columns import compact
from broadsheet.core.params import SPLITS
from broadsheet.core.shards import spans
from broadsheet.normalize import folder as normalized_folder
from broadsheet.publish import reuse
from broadsheet.publish.splits import splits_of

LIGHT = ["id", "text_sha256", "n_words", "lang", "source.path", "source.raw_sha256"]
"""The columns of a record the plan, the statistics and the manifest read."""


def digest(records: pa.Table) -> str:
    """A hash of the LIGHT columns of ``records`` (flattened): the task that writes a shard checks that the rows it
    reads are the rows planned, which a normalize output replaced meanwhile may not give, even with the same ids."""
    return columns.digest([records.column(name) for name in LIGHT])


@dataclass(frozen=True)
class Shard:
    split: str
    position: int
    """Its place in the split."""
    records: pa.Table
    """The plan's ``kept`` (shared by every shard: a shard holds no copy of its rows)."""
    kept: np.ndarray
    """The places of its records in ``records``, in order."""
    key: str

    @property
    def rows(self) -> pa.Table:
        """Its records' light columns, with ``shard`` and ``row`` (where each is in the normalize output) and
        ``kept`` (its place among the records kept): made on each call."""
        return self.records.take(self.kept)

    def segments(self, paths: list[Path]) -> list[tuple[str, pa.Array]]:
        """Its rows as (normalized shard, positions in it), in order."""
        shards = self.records.column("shard").take(self.kept).to_numpy()
        starts = [0, *(np.flatnonzero(shards[1:] != shards[:-1]) + 1), len(shards)]
        rows = self.records.column("row").take(self.kept).combine_chunks()
        return [(str(paths[shards[a]]), compact(rows.slice(a, b - a))) for a, b in zip(starts, starts[1:]) if b > a]


@dataclass(frozen=True)
class Plan:
    kept: pa.Table
    """The light columns of the records kept, in source order, with ``split``."""
    left_out: int
    """How many records were left out as duplicates."""
    shards: dict[str, list[Shard]]
    """Per split, its shards in order (an empty split has one empty shard: ``datasets`` cannot load zero files)."""

    def in_order(self) -> list[Shard]:
        """Every shard, in the order of its last record: the order their rows are met in the normalize output."""
        last = lambda shard: shard.kept[-1] if len(shard.kept) else -1  # noqa: E731
        return list(heapq.merge(*self.shards.values(), key=last))


def make(
    paths: list[Path], dropped: dict, ratios: dict[str, float], shard_rows: int, fingerprint: str, threads: int = 1
) -> Plan:
    """The plan for the normalized shards ``paths``, less the ids ``dropped`` (their columns read by ``threads``)."""
    rows = normalized_folder.columns(paths, LIGHT, threads)
    keep = pc.invert(pc.is_in(rows.column("id"), value_set=pa.array(list(dropped), pa.string())))
    kept = rows.filter(keep)
    left_out = rows.num_rows - kept.num_rows
    kept = kept.append_column("kept", pa.array(np.arange(kept.num_rows, dtype=np.int64)))
    assigned = splits_of(kept.column("id").to_pylist(), ratios)
    kept = kept.append_column("split", assigned)
    shards = {}
    for split in SPLITS:
        where = np.flatnonzero(pc.equal(assigned, split).to_numpy(zero_copy_only=False))
        cuts = spans(kept.column("id").take(where).to_pylist(), shard_rows) or [range(0)]
        shards[split] = []
        for i, cut in enumerate(cuts):
            rows = where[cut.start : cut.stop]
            shards[split].append(Shard(split, i, kept, rows, reuse.shard_key(fingerprint, kept.take(rows))))
    return Plan(kept, left_out, shards)
