"""The values that flow through the pipeline: a source file and a rejected one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """A raw file to read: where it is, and the identity its name gives it."""

    path: str
    """Absolute path to open (for a member of a tar shard: the shard's)."""
    relpath: str
    """Path relative to the source folder, '/'-separated; what records and rejects show."""
    id: str
    ordinal: int | None
    member: tuple[int, int] | None = None
    """For a member of a tar shard: (offset of its data in the uncompressed tar, size); None for a file."""

    @property
    def order(self) -> tuple:
        """Source order: ordinal first (named files before unnamed ones), then relative path."""
        return (self.ordinal is None, self.ordinal or 0, self.relpath)


@dataclass(frozen=True)
class Rejected:
    """A file that did not become a record, with a reason a person understands."""

    path: str
    reason: str
    detail: str

    def row(self) -> dict:
        return {"path": self.path, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class Filtered:
    """A document the quality filters removed, with the measured value that decided it."""

    id: str
    path: str
    reason: str
    value: float | None
    detail: str

    def row(self) -> dict:
        return {"id": self.id, "path": self.path, "reason": self.reason, "value": self.value, "detail": self.detail}
