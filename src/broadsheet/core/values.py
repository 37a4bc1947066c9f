"""The values that flow through the pipeline: a source to read, and the two ways a source ends without a record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Source(NamedTuple):
    """A raw file to read: where it is, and the identity its name gives it.

    A named tuple: a shard's thousand Sources go to a worker with every task, and
    tuples pickle several times faster than dataclass instances.
    """

    path: str
    """Path to open (for a member of a tar shard: the shard's)."""
    relpath: str
    """Path relative to the source folder, '/'-separated; what records and rejects show."""
    id: str
    ordinal: int | None
    member: tuple[int, int] | None = None
    """For a member of a tar shard: (offset of its data in the uncompressed tar, size); None for a file."""
    identity: tuple[int, int] | None = None
    """(device, inode) of the file at ``path`` when the walk saw it: reading checks it is still that file."""
    kind: str = "file"
    """What ``path`` is: a file of one article (``file``), a tar shard (``tar``), or a file of records of the
    format ``normalize.format`` names (``jsonl``, ``csv``, ``parquet``: ``member`` says where the record is)."""
    content: str | None = None
    """The sha256 of its bytes when the walk knows it without reading them: a member of a tar shard whose own
    sha256 a previous run's listing of it has (``inputs.walk.plan``'s ``listings``); None otherwise."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A file that did not become a record, with a reason a person understands."""

    path: str
    reason: str
    detail: str

    def row(self) -> dict:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Filtered:
    """A document the quality filters removed, with the measured value that decided it."""

    id: str
    path: str
    reason: str
    value: float | None
    detail: str

    def row(self) -> dict:
        return {"id": self.id, "path": self.path, "reason": self.reason, "value": self.value, "detail": self.detail}
