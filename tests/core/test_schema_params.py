"""The schema files are the single source of truth; params are checked, not trusted."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import broadsheet
from broadsheet.core import params, schema
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.values import Source
from broadsheet.text.document import normalize_document
from helpers import REPO


def test_arrow_schema_follows_the_json_file():
    spec = json.loads((REPO / "schemas" / "document.v2.json").read_text())
    doc = schema.document()
    assert doc.names == [f["name"] for f in spec["fields"]]
    for f in spec["fields"]:
        assert doc.arrow.field(f["name"]).nullable == f["nullable"]
        assert doc.arrow.field(f["name"]).metadata[b"description"].decode() == f["description"]


def test_schema_and_toolkit_versions_are_in_the_arrow_metadata():
    meta = schema.document().arrow.metadata
    assert meta[b"broadsheet.schema"] == b"document.v2"
    assert meta[b"broadsheet.version"] == broadsheet.__version__.encode()


def test_features_match_the_arrow_schema():
    features = schema.document().features()
    assert list(features) == schema.document().names
    assert features.arrow_schema.field("related").type == pa.list_(pa.string())


def test_a_record_has_exactly_the_schema_fields(seed_bytes):
    rec = normalize_document(seed_bytes, Source("/x", "a.txt", "0123456789abcdef", None), params.NormalizeParams())
    assert list(rec) == schema.document().names
    schema.document().check(pa.RecordBatch.from_pylist([rec], schema=schema.document().arrow))


def test_check_refuses_a_missing_field_and_a_null_in_a_non_null_field():
    doc = schema.document()
    with pytest.raises(BroadsheetError, match="does not match schema document.v2"):
        doc.check(pa.table({"id": ["a"]}))
    nulls = pa.Table.from_pylist([{"id": None}], schema=doc.arrow)
    with pytest.raises(BroadsheetError, match="'id' may not be null"):
        doc.check(nulls)


def test_defaults_equal_the_shipped_params_file():
    shipped = params.load(REPO / "params.yaml")
    assert shipped.normalize == params.NormalizeParams()
    assert shipped.publish.splits == params.PublishParams().splits


@pytest.mark.parametrize(
    "data, message",
    [
        ({"normalize": {"shard_size": 10}}, "unknown setting normalize.shard_size"),
        ({"normalise": {}}, "unknown setting normalise"),
        ({"normalize": {"shard_rows": "many"}}, "normalize.shard_rows must be int"),
        ({"normalize": {"shard_rows": True}}, "normalize.shard_rows must be int"),
        ({"normalize": {"fix_acute_apostrophe": 1}}, "normalize.fix_acute_apostrophe must be bool"),
        ({"normalize": {"include": "*.txt"}}, "normalize.include must be a list"),
        ({"normalize": {"shard_rows": 0}}, "normalize.shard_rows must be between 1 and"),
        ({"publish": {"splits": {"train": 0.5, "test": 0.5}}}, "exactly the keys"),
        ({"publish": {"splits": {"train": 0.9, "validation": 0.2, "test": 0.1}}}, "add up to 1"),
        ({"publish": {"card": {"license": 3}}}, "publish.card.license must be str"),
        (["normalize"], "must be a mapping"),
    ],
)
def test_bad_params_are_refused_with_the_setting_named(data, message):
    with pytest.raises(BroadsheetError, match=message):
        params.parse(data)


def test_integer_split_ratios_are_accepted():
    assert (
        params.parse({"publish": {"splits": {"train": 1, "validation": 0, "test": 0}}}).publish.splits["train"] == 1.0
    )


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("normalize:\n  include: [*.txt\n")
    with pytest.raises(BroadsheetError, match="not valid YAML at line"):
        params.load(path)
