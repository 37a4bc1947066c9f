"""Typed settings of each stage, read from ``params.yaml``.

Every knob lives in ``params.yaml`` (DVC tracks it); this module gives each
stage a frozen dataclass and refuses unknown keys and ill-typed values with one
readable line.
"""

from __future__ import annotations

import codecs
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from broadsheet.core.errors import BroadsheetError, failing_as

SPLITS = ("train", "validation", "test")
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class NormalizeParams:
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
    lang_prefix_chars: int = 1000
    """Characters of title + text the language detector reads."""

    def validate(self) -> None:
        _positive("normalize.max_file_bytes", self.max_file_bytes)
        _positive("normalize.shard_rows", self.shard_rows)
        _positive("normalize.lang_prefix_chars", self.lang_prefix_chars)
        if not self.include:
            raise BroadsheetError("params: normalize.include must list at least one pattern")
        _one_of("normalize.control_chars", self.control_chars, ("remove", "reject"))
        for encoding in self.legacy_encodings:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise BroadsheetError(f"params: normalize.legacy_encodings: unknown encoding {encoding!r}") from None


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
        if self.min_words < 0 or self.max_words < 0:
            raise BroadsheetError("params: filter.min_words and filter.max_words may not be negative")
        if not 0 <= self.max_repeated_paragraphs <= 1:
            raise BroadsheetError("params: filter.max_repeated_paragraphs must be between 0 and 1")


@dataclass(frozen=True)
class CardParams:
    pretty_name: str = "broadsheet corpus"
    license: str = "other"
    description: str = "News articles parsed and normalised by broadsheet."
    citation: str = ""
    homepage: str = ""


@dataclass(frozen=True)
class PublishParams:
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    """Share of documents per split; a document's split is a function of its id alone."""
    shard_rows: int = 1000
    """Target rows per content-defined Arrow shard of each split."""
    card: CardParams = field(default_factory=CardParams)

    def validate(self) -> None:
        _positive("publish.shard_rows", self.shard_rows)
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
        for name in ("ngram", "num_perm", "bands", "rows"):
            _positive(f"dedup.{name}", getattr(self, name))
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
        if self.workers < 0:
            raise BroadsheetError(f"params: compute.workers may not be negative, got {self.workers}")


@dataclass(frozen=True)
class Params:
    normalize: NormalizeParams = field(default_factory=NormalizeParams)
    filter: FilterParams = field(default_factory=FilterParams)
    dedup: DedupParams = field(default_factory=DedupParams)
    publish: PublishParams = field(default_factory=PublishParams)
    compute: ComputeParams = field(default_factory=ComputeParams)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BroadsheetError(f"params: {name} must be one of {', '.join(allowed)}, got {value!r}")


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise BroadsheetError(f"params: {name} must be positive, got {value}")


def _coerce(value, tp, where: str):
    """Check ``value`` against the annotation ``tp``; return it in the dataclass's own shape."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        if not isinstance(value, list):
            raise BroadsheetError(f"params: {where} must be a list, got {value!r}")
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        if not isinstance(value, dict):
            raise BroadsheetError(f"params: {where} must be a mapping, got {value!r}")
        return {_coerce(k, key_t, where): _coerce(v, val_t, f"{where}.{k}") for k, v in value.items()}
    # bool is an int in Python; a param typed int must not accept true/false, nor the reverse.
    ok = isinstance(value, tp) and not (tp is not bool and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise BroadsheetError(f"params: {where} must be {tp.__name__}, got {value!r}")
    return value


def _build(cls, data, where: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BroadsheetError(f"params: {where or 'the file'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        prefix = f"{where}." if where else ""
        raise BroadsheetError(f"params: unknown setting {prefix}{unknown[0]} (known: {', '.join(sorted(known))})")
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
        text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise BroadsheetError(f"params file {path} is not valid YAML{at}") from None
    return parse(data)
