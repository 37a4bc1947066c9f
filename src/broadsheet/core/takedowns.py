"""The takedown list, ``takedowns.csv``: documents whose text must leave every later version, and why.

A small CSV at the corpus repository's root (git-tracked, hand-editable, a
dependency of the normalize stage) with the columns ``id``, ``reason`` and
``date``. Read strictly: a malformed row is one line naming it, never a
document silently kept.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass
from pathlib import Path

from broadsheet.core.errors import BroadsheetError, failing_as

FILE = "takedowns.csv"
COLUMNS = ("id", "reason", "date")
ID = re.compile(r"[0-9a-f]{16}")
MAX_BYTES = 16 << 20
MAX_REASON = 500


@dataclass(frozen=True)
class Takedown:
    id: str
    reason: str
    date: str
    """YYYY-MM-DD."""

    def row(self) -> dict:
        return {"id": self.id, "reason": self.reason, "date": self.date}


def parse(text: str, where: str = FILE) -> dict[str, Takedown]:
    """Id -> Takedown of the CSV ``text``; a BroadsheetError naming the first bad row."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [cell.strip() for cell in rows[0]] != list(COLUMNS):
        raise BroadsheetError(f"{where} must start with the header {','.join(COLUMNS)}")
    found: dict[str, Takedown] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        takedown = check(*[cell.strip() for cell in cells], where=f"{where} line {number}") if len(cells) == 3 else None
        if takedown is None:
            raise BroadsheetError(f"{where} line {number}: expected 3 columns ({','.join(COLUMNS)}), got {len(cells)}")
        if takedown.id in found:
            raise BroadsheetError(f"{where} line {number}: id {takedown.id} is taken down twice")
        found[takedown.id] = takedown
    return found


def check(doc_id: str, reason: str, date: str, where: str) -> Takedown:
    """One takedown, validated: a 16-hex id, a one-line reason, an ISO date."""
    if not ID.fullmatch(doc_id):
        raise BroadsheetError(f"{where}: {doc_id[:40]!r} is not a document id (16 lower-case hex digits)")
    if not reason or len(reason) > MAX_REASON or "\n" in reason or "\r" in reason:
        raise BroadsheetError(f"{where}: the reason must be one line of 1 to {MAX_REASON} characters")
    try:
        parsed = datetime.date.fromisoformat(date)
    except ValueError:
        raise BroadsheetError(f"{where}: {date[:40]!r} is not a date (YYYY-MM-DD)") from None
    if parsed.isoformat() != date:
        raise BroadsheetError(f"{where}: {date[:40]!r} is not a date (YYYY-MM-DD)")
    return Takedown(doc_id, reason, date)


def read(path: str | Path | None) -> dict[str, Takedown]:
    """The takedowns of the file at ``path``; none without a path or when the file does not exist."""
    if path is None or not Path(path).exists():
        return {}
    with failing_as(f"cannot read {path}"), open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    return parse_bytes(data, str(path))


def parse_bytes(data: bytes, where: str) -> dict[str, Takedown]:
    if len(data) > MAX_BYTES:
        raise BroadsheetError(f"{where} is larger than {MAX_BYTES} bytes")
    try:
        return parse(data.decode("utf-8"), where)
    except UnicodeDecodeError as e:
        raise BroadsheetError(f"{where} is not UTF-8 text (byte {e.start})") from None


def append(path: str | Path, new: list[Takedown]) -> None:
    """Add ``new`` to the file at ``path`` (made with its header if missing); refuses ids already listed."""
    path = Path(path)
    listed = read(path)
    again = [t.id for t in new if t.id in listed]
    if again:
        raise BroadsheetError(f"{again[0]} is already taken down in {path} ({listed[again[0]].reason})")
    if len({t.id for t in new}) < len(new):
        raise BroadsheetError("an id is given twice")
    text = path.read_text(encoding="utf-8") if path.exists() else ",".join(COLUMNS) + "\n"
    if not text.endswith("\n"):
        text += "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for takedown in new:
        writer.writerow([takedown.id, takedown.reason, takedown.date])
    with failing_as(f"cannot write {path}"):
        path.write_text(text + out.getvalue(), encoding="utf-8")
