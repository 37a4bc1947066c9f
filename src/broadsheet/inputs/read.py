"""Reading one source's bytes, bounded by ``max_file_bytes``, or the reason they cannot be had."""

from __future__ import annotations

import os

from broadsheet.core.errors import reason
from broadsheet.core.params import FieldsParams
from broadsheet.core.values import Rejected, Source
from broadsheet.inputs import archives, records
from broadsheet.inputs.opening import CHANGED, Changed, open_planned


def read(source: Source, max_bytes: int, fields: FieldsParams) -> bytes | Rejected:
    """The bytes of ``source`` (for a record of a file of records, the record as a JSON object), or why they
    cannot be had."""
    try:
        if source.kind in records.FORMATS:
            raw = records.read(source.path, source.kind, source.member, source.identity, max_bytes, fields)
        elif source.member is not None:
            raw = archives.read_member(source.path, *source.member, source.identity)
        else:
            raw = _read_file(source, max_bytes)
    except Changed as e:
        return Rejected(source.relpath, CHANGED, str(e))
    except records.TooLarge as e:
        return Rejected(source.relpath, "too_large", str(e))
    except UnicodeDecodeError as e:
        return Rejected(source.relpath, "undecodable", f"not UTF-8: {reason(e)}")
    except (*archives.ERRORS, *records.ERRORS) as e:
        return Rejected(source.relpath, "unreadable", reason(e))
    if source.kind in ("tar", "jsonl") and len(raw) != source.member[1]:
        return Rejected(
            source.relpath,
            "unreadable",
            f"the archive ends inside this member ({len(raw)} of {source.member[1]} bytes)",
        )
    if len(raw) > max_bytes:
        grew = "as JSON" if source.kind in records.FORMATS else "grew past it while being read"
        return Rejected(source.relpath, "too_large", f"{len(raw)} bytes > max_file_bytes {max_bytes} ({grew})")
    return raw


def _read_file(source: Source, max_bytes: int) -> bytes:
    with open_planned(source.path, source.identity) as f:
        # Not read(max_bytes + 1) alone: that allocates max_bytes for every file.
        size = os.fstat(f.fileno()).st_size
        raw = f.read(min(size, max_bytes) + 1)
        if size < len(raw) <= max_bytes:  # it grew since the stat: read on, up to the limit
            raw += f.read(max_bytes + 1 - len(raw))
    return raw
