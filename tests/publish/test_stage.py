"""`broadsheet publish`: a DatasetDict that `datasets.load_from_disk` opens, byte-deterministic."""

from __future__ import annotations

import json

import datasets
import pytest
import yaml

from broadsheet import normalize, publish
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.params import CardParams, PublishParams
from broadsheet.publish.splits import split_of
from broadsheet.publish.stage import Inputs
from helpers import SEED_PATH, make_corpus, settings, tree_bytes


@pytest.fixture
def normalized(tmp_path, seed_bytes):
    src = tmp_path / "raw"
    make_corpus(src, 200, start=1)
    (src / SEED_PATH.name).write_bytes(seed_bytes)
    out = tmp_path / "normalized"
    normalize.run([src], out, settings(workers=1), progress=False)
    return out


def test_published_folder_loads_with_all_three_splits(tmp_path, normalized):
    metrics = publish.run(normalized, tmp_path / "ds", settings(PublishParams(shard_rows=20)), progress=False)
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert list(loaded) == ["train", "validation", "test"]
    assert sum(len(s) for s in loaded.values()) == 201 == metrics["documents"]
    for name, split in loaded.items():
        assert {split_of(i, PublishParams().splits) for i in split["id"]} <= {name}
        assert metrics["splits"][name]["rows"] == len(split)
    seed = loaded.filter(lambda r: r["id"] == "812283e286aaf8e1")
    (row,) = [r for s in seed.values() for r in s]
    assert row["dateline"] == "MOSCOW/WASHINGTON" and len(row["related"]) == 16
    assert metrics["splits"]["train"]["shards"] > 1


def test_an_empty_split_still_loads(tmp_path, normalized):
    params = PublishParams(splits={"train": 1.0, "validation": 0.0, "test": 0.0})
    publish.run(normalized, tmp_path / "ds", settings(params), progress=False)
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert (len(loaded["train"]), len(loaded["validation"]), len(loaded["test"])) == (201, 0, 0)
    assert loaded["test"].features == loaded["train"].features


def test_rows_keep_source_order_within_each_split(tmp_path, normalized):
    publish.run(normalized, tmp_path / "ds", settings(), progress=False)
    train = datasets.load_from_disk(str(tmp_path / "ds"))["train"]
    ordinals = train["source"]
    assert [s["ordinal"] for s in ordinals] == sorted(s["ordinal"] for s in ordinals)


def test_publishing_twice_gives_identical_bytes_and_content_fingerprints(tmp_path, normalized):
    publish.run(normalized, tmp_path / "a", settings(), progress=False)
    publish.run(normalized, tmp_path / "elsewhere" / "b", settings(), progress=False)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "elsewhere" / "b")
    state = json.loads((tmp_path / "a" / "train" / "state.json").read_text())
    assert len(state["_fingerprint"]) == 16 and state["_split"] == "train"


def test_card_yaml_survives_quotes_and_colons(tmp_path, normalized):
    card = CardParams(pretty_name='News: "quoted" — and: more | <b>', description="a: b\n- c")
    publish.run(normalized, tmp_path / "ds", settings(PublishParams(card=card)), progress=False)
    text = (tmp_path / "ds" / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["pretty_name"] == card.pretty_name
    assert {s["name"]: s["num_examples"] for s in front["dataset_info"]["splits"]}["train"] > 0
    assert "<b>" not in text.split("---\n", 2)[2]


def test_publish_refuses_a_folder_that_is_not_a_normalize_output(tmp_path):
    (tmp_path / "half").mkdir()
    with pytest.raises(BroadsheetError, match="not a complete normalize output"):
        publish.run(tmp_path / "half", tmp_path / "ds", settings(), progress=False)
    with pytest.raises(BroadsheetError, match="does not exist"):
        publish.run(tmp_path / "missing", tmp_path / "ds", settings(), progress=False)


def test_publish_refuses_shards_of_another_schema(tmp_path, normalized):
    import pyarrow.parquet as pq

    shard = next((normalized / "data").glob("*.parquet"))
    pq.write_table(pq.read_table(shard).drop_columns(["lang"]), shard)
    with pytest.raises(BroadsheetError, match="run broadsheet normalize again"):
        publish.run(normalized, tmp_path / "ds", settings(), progress=False)
    assert not (tmp_path / "ds").exists()


def test_an_empty_corpus_publishes_three_empty_splits_that_load(tmp_path):
    (tmp_path / "raw").mkdir()
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    metrics = publish.run(tmp_path / "n", tmp_path / "ds", settings(), progress=False)
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert metrics["documents"] == 0
    assert [len(s) for s in loaded.values()] == [0, 0, 0]


def test_operator_text_cannot_break_out_of_the_card(tmp_path, normalized):
    citation = "@misc{x,\n  title = {```\n</pre><script>alert(1)</script>\n````}\n}"
    card = CardParams(citation=citation, pretty_name="<img src=x onerror=alert(1)>")
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## v1\n\nFirst release <img src=x onerror=alert(2)>.\n")
    publish.run(
        Inputs(normalized, changelog=changelog), tmp_path / "ds", settings(PublishParams(card=card)), progress=False
    )
    text = (tmp_path / "ds" / "README.md").read_text()
    body = text.split("\n---\n", 1)[1]
    assert "<img" not in body and "<script>" not in body.split("`````bibtex\n", 1)[0]
    fenced = body.split("`````bibtex\n", 1)[1].split("\n`````\n", 1)[0]
    assert fenced == citation  # whole, inside a fence longer than any run of backticks in it


def test_a_five_megabyte_title_is_cut_in_the_cards_example(tmp_path):
    huge = "T" * 5_000_000
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text(f"{huge}\nLONDON: " + " ".join(f"w{i}" for i in range(50)) + ".")
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    publish.run(tmp_path / "n", tmp_path / "ds", settings(), progress=False)
    assert (tmp_path / "ds" / "README.md").stat().st_size < 50_000
