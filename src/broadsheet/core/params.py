"""Typed settings of each stage, read from ``params.yaml``.

Every knob lives in ``params.yaml`` (DVC tracks it); this module gives each
stage a frozen dataclass and refuses unknown keys, ill-typed values and values
out of their range with one readable line, before any work starts (never later,
in a worker).
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from broadsheet.core import yamlfile
from broadsheet.core.errors import BroadsheetError, failing_as

SPLITS = ("train", "validation", "test")
ENGINES = ("local", "ray")


FORMATS = ("article_txt", "jsonl", "csv", "parquet")
FORMAT_FILES = {
    "article_txt": ("*.txt",),
    "jsonl": ("*.jsonl", "*.jsonl.gz", "*.jsonl.zst"),
    "csv": ("*.csv",),
    "parquet": ("*.parquet",),
}
"""The file names each format's files usually have: ``broadsheet init --format`` sets normalize.include to them."""


@dataclass(frozen=True)
class FieldsParams:
    """Which input field holds each part of a record (formats jsonl, csv, parquet); "": the input has none."""

    title: str = "title"
    text: str = "text"
    """Paragraphs separated by blank lines, or one per line."""
    dateline: str = ""
    """Empty: taken from the text's first paragraph, if normalize.extract_dateline."""
    related: str = ""
    """A list of headlines, or one per line."""
    url: str = "url"
    date: str = "date"
    """The publication date, kept as the input writes it (url and date are null where the input has no such field)."""
    id: str = ""
    """A field whose value stays with the record across versions (a URL, an article id): the record's id is a
    hash of it. Empty: the id is a hash of the file's path and the record's line or row."""


@dataclass(frozen=True)
class NormalizeParams:
    format: str = "article_txt"
    """How raw files hold documents: article_txt (one article per file: headline, paragraphs, '-', related), or
    many records per file: jsonl (also .jsonl.gz, .jsonl.zst), csv (with a header), parquet."""
    fields: FieldsParams = field(default_factory=FieldsParams)
    include: tuple[str, ...] = ("*.txt",)
    """Glob patterns on the file name; other files are counted as skipped (not_a_document)."""
    archives: tuple[str, ...] = ("*.tar", "*.tar.gz", "*.tgz")
    """Glob patterns of tar shards: their members are read (streamed, never unpacked) like files in a folder."""
    max_file_bytes: int = 16 * 1024 * 1024
    """Files larger than this are rejected as too_large without being read."""
    fix_acute_apostrophe: bool = True
    """Turn an acute accent used as an apostrophe (Russia´s) into ’."""
    extract_dateline: bool = True
    """Move an opening place line (MOSCOW/WASHINGTON: ...) of the first paragraph into ``dateline``."""
    shard_rows: int = 1000
    """Target rows per content-defined Parquet shard."""
    legacy_encodings: tuple[str, ...] = ("cp1252", "iso8859-1")
    """Encodings tried first for text that is not UTF-8, kept when the text reads cleanly; then detection."""
    max_mess_ratio: float = 0.2
    """How garbled (charset-normalizer's mess ratio) decoded text may look before the file is rejected."""
    fix_mojibake: bool = True
    """Repair UTF-8 that was once decoded as cp1252/latin-1 (Russiaâ€™s -> Russia’s) with ftfy."""
    control_chars: str = "remove"
    """Control characters (NUL, BEL, ESC, C1) in text: remove (flagged) or reject the file."""
    lang_prefix_chars: int = 500
    """Characters of title + text the language detector reads."""

    def validate(self) -> None:
        _between("normalize.max_file_bytes", self.max_file_bytes, 1, 1 << 30)
        _between("normalize.shard_rows", self.shard_rows, 1, MAX_SHARD_ROWS)
        _between("normalize.lang_prefix_chars", self.lang_prefix_chars, 1, 1 << 24)
        _between("normalize.max_mess_ratio", self.max_mess_ratio, 0, 1)
        if not self.include:
            raise BroadsheetError("params: normalize.include must list at least one pattern")
        _one_of("normalize.control_chars", self.control_chars, ("remove", "reject"))
        _one_of("normalize.format", self.format, FORMATS)
        if self.format != "article_txt" and not (self.fields.title and self.fields.text):
            raise BroadsheetError("params: normalize.fields.title and normalize.fields.text must name input fields")
        for encoding in self.legacy_encodings:
            if not _is_legacy_text_encoding(encoding):
                raise BroadsheetError(
                    f"params: normalize.legacy_encodings: {_shown(encoding)} is not a text encoding (e.g. cp1252)"
                )


@dataclass(frozen=True)
class FilterParams:
    min_words: int = 5
    """Documents with fewer words in text are filtered (too_few_words)."""
    max_words: int = 200_000
    """Documents with more words are filtered (too_many_words); 0: no limit."""
    max_repeated_paragraphs: float = 0.3
    """Largest share of paragraphs that repeat an earlier one (repeated_lines)."""
    languages: tuple[str, ...] = ()
    """Allow-list of language codes; other documents are filtered (language). Empty: all languages."""

    def validate(self) -> None:
        _between("filter.min_words", self.min_words, 0, 1 << 40)
        _between("filter.max_words", self.max_words, 0, 1 << 40)
        _between("filter.max_repeated_paragraphs", self.max_repeated_paragraphs, 0, 1)


@dataclass(frozen=True)
class CardParams:
    pretty_name: str = "broadsheet corpus"
    license: str = "other"
    description: str = "News articles parsed and normalised by broadsheet."
    citation: str = ""
    homepage: str = ""

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            if len(getattr(self, f.name)) > MAX_CARD_TEXT:
                raise BroadsheetError(f"params: publish.card.{f.name} is longer than {MAX_CARD_TEXT} characters")


@dataclass(frozen=True)
class PublishParams:
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    """Share of documents per split; a document's split is a function of its id alone."""
    shard_rows: int = 1000
    """Target rows per content-defined Arrow shard of each split."""
    card: CardParams = field(default_factory=CardParams)

    def validate(self) -> None:
        _between("publish.shard_rows", self.shard_rows, 1, MAX_SHARD_ROWS)
        self.card.validate()
        if set(self.splits) != set(SPLITS):
            raise BroadsheetError(f"params: publish.splits must have exactly the keys {', '.join(SPLITS)}")
        if any(v < 0 for v in self.splits.values()) or abs(sum(self.splits.values()) - 1.0) > 1e-9:
            raise BroadsheetError("params: publish.splits must be non-negative and add up to 1")


@dataclass(frozen=True)
class DedupParams:
    ngram: int = 5
    """Words per shingle."""
    num_perm: int = 128
    """MinHash permutations; must equal bands x rows."""
    bands: int = 16
    rows: int = 8
    threshold: float = 0.8
    """Least Jaccard similarity of word shingles for a near duplicate (checked exactly on candidate pairs)."""
    seed: int = 42
    """Seed of the MinHash permutations."""
    drop: str = "near"
    """What publish leaves out: exact duplicates only, exact and near, or none."""

    def validate(self) -> None:
        _between("dedup.ngram", self.ngram, 1, 1000)
        _between("dedup.num_perm", self.num_perm, 1, 4096)
        _between("dedup.bands", self.bands, 1, 4096)
        _between("dedup.rows", self.rows, 1, 4096)
        _between("dedup.seed", self.seed, 0, 2**63 - 1)
        if self.bands * self.rows != self.num_perm:
            raise BroadsheetError(f"params: dedup.bands x dedup.rows must equal dedup.num_perm ({self.num_perm})")
        if not 0 < self.threshold <= 1:
            raise BroadsheetError("params: dedup.threshold must be in (0, 1]")
        _one_of("dedup.drop", self.drop, ("exact", "near", "none"))


@dataclass(frozen=True)
class ComputeParams:
    """Where the work runs. The outputs are the same whatever these say, so no stage depends on them."""

    engine: str = "local"
    """local (processes on this machine) or ray (the cluster RAY_ADDRESS names, else a local Ray)."""
    workers: int = 0
    """Worker processes (local) or CPUs of a local Ray; 0: every core of this machine."""

    def validate(self) -> None:
        _one_of("compute.engine", self.engine, ENGINES)
        _between("compute.workers", self.workers, 0, max_workers())


@dataclass(frozen=True)
class Params:
    normalize: NormalizeParams = field(default_factory=NormalizeParams)
    filter: FilterParams = field(default_factory=FilterParams)
    dedup: DedupParams = field(default_factory=DedupParams)
    publish: PublishParams = field(default_factory=PublishParams)
    compute: ComputeParams = field(default_factory=ComputeParams)


_EXPONENT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")
MAX_SHARD_ROWS = 1_000_000
MAX_CARD_TEXT = 100_000
WORKERS_PER_CORE = 8


def max_workers() -> int:
    """The most workers a run may ask for here: a few per core (more only thrash, or fork until memory runs out)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return WORKERS_PER_CORE * cores


_PROBE = b"Plain Text, a\\nb: +AGE- 42."


def _is_legacy_text_encoding(encoding: str) -> bool:
    """Whether ``encoding`` decodes bytes to the same text ASCII does, as every legacy 8-bit or multi-byte text
    encoding does; not hex or base64 (bytes to bytes), undefined, unicode_escape (reads escapes), UTF-16."""
    try:
        return codecs.lookup(encoding)._is_text_encoding and _PROBE.decode(encoding) == _PROBE.decode("ascii")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return False


def _shown(value) -> str:
    """A value for a message: its repr, cut short (a setting may be megabytes long)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BroadsheetError(f"params: {name} must be one of {', '.join(allowed)}, got {_shown(value)}")


def _between(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise BroadsheetError(f"params: {name} must be between {low} and {high}, got {_shown(value)}")


def _coerce(value, tp, where: str):
    """Check ``value`` against the annotation ``tp``; return it in the dataclass's own shape."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        if not isinstance(value, list):
            raise BroadsheetError(f"params: {where} must be a list, got {_shown(value)}")
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        if not isinstance(value, dict):
            raise BroadsheetError(f"params: {where} must be a mapping, got {_shown(value)}")
        return {_coerce(k, key_t, where): _coerce(v, val_t, f"{where}.{k}") for k, v in value.items()}
    # bool is an int in Python; a param typed int must not accept true/false, nor the reverse.
    ok = isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if tp is float and isinstance(value, str) and _EXPONENT.fullmatch(value):  # YAML 1.1 reads 1e-3 as text
        value, ok = float(value), True
    if not ok:
        raise BroadsheetError(f"params: {where} must be {tp.__name__}, got {_shown(value)}")
    if tp is float and not math.isfinite(value):
        raise BroadsheetError(f"params: {where} must be a finite number, got {_shown(value)}")
    return value


def _build(cls, data, where: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BroadsheetError(f"params: {where or 'the file'} must be a mapping, got {_shown(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    if not all(isinstance(key, str) for key in data):
        odd = next(key for key in data if not isinstance(key, str))
        raise BroadsheetError(f"params: {where or 'the file'} has a key that is not a name: {_shown(odd)}")
    unknown = sorted(set(data) - known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise BroadsheetError(
            f"params: unknown setting {prefix}{_shown(unknown[0])[1:-1]} (known: {', '.join(sorted(known))})"
        )
    values = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**values)


def parse(data) -> Params:
    """Params from the already-loaded YAML mapping, validated."""
    params = _build(Params, data, "")
    for section in (params.normalize, params.filter, params.dedup, params.publish, params.compute):
        section.validate()
    return params


def load(path: str | Path | None) -> Params:
    """Params from ``params.yaml``; the defaults when ``path`` is None."""
    if path is None:
        return parse({})
    with failing_as(f"cannot read params file {path}"):
        with open(path, "rb") as f:
            data = f.read(yamlfile.MAX_BYTES + 1)
    return parse(yamlfile.parse(data, f"params file {path}"))
