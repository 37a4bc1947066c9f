"""A published folder opens in the tools researchers use: load_dataset, polars, duckdb, mlcroissant, the Hub's card."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import datasets
import pytest

from broadsheet import normalize, publish
from broadsheet.core.params import PublishParams
from broadsheet.publish import validate
from helpers import SEED_PATH, card_as_patterns, make_corpus, settings


@pytest.fixture(scope="module")
def published(tmp_path_factory, seed_bytes):
    root = tmp_path_factory.mktemp("eco")
    make_corpus(root / "raw", 120, start=1)
    (root / "raw" / SEED_PATH.name).write_bytes(seed_bytes)
    normalize.run([root / "raw"], root / "n", settings(workers=1), progress=False)
    # shards of a few rows: their names (keys) do not sort in their order, which load_dataset must keep
    publish.run(root / "n", root / "ds", settings(PublishParams(shard_rows=8)), progress=False)
    return root / "ds"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_load_dataset_on_the_folder_equals_load_from_disk(published, offline, tmp_path):
    from_disk = datasets.load_from_disk(str(published))
    from_parquet = datasets.load_dataset(str(published), cache_dir=str(tmp_path / "cache"))
    assert list(from_parquet) == list(from_disk)
    for split in from_disk:
        assert from_parquet[split].features == from_disk[split].features
        assert from_parquet[split].to_list() == from_disk[split].to_list()


def test_polars_and_duckdb_read_the_parquet_export(published):
    import duckdb
    import polars as pl

    rows = len(datasets.load_from_disk(str(published))["train"])
    assert pl.read_parquet(str(published / "data" / "train-*.parquet")).height == rows
    count = duckdb.sql(f"select count(*) from read_parquet('{published}/data/train-*.parquet')").fetchall()[0][0]
    assert count == rows


def test_the_card_parses_with_huggingface_hub_and_declares_the_parquet_configs(published):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(published / "README.md")
    train = card.data.configs[0]["data_files"][0]
    assert train["split"] == "train"
    state = json.loads((published / "train" / "state.json").read_text())
    # every Parquet file of the split, in the order of the Arrow shards (a pattern would sort them by name)
    assert sorted(train["path"]) == sorted(p.relative_to(published).as_posix() for p in published.glob("data/train-*"))
    assert [Path(p).stem.removeprefix("train-") for p in train["path"]] == [
        Path(f["filename"]).stem.removeprefix("data-") for f in state["_data_files"]
    ]
    assert train["path"] != sorted(train["path"])  # so that the order load_dataset keeps is the card's
    assert {s["name"] for s in card.data.dataset_info["splits"]} == {"train", "validation", "test"}
    assert "## Dataset structure" in card.text and "`source.raw_sha256`" in card.text


def test_validate_names_a_card_that_lists_the_files_in_another_order(published, tmp_path):
    import shutil

    from huggingface_hub import DatasetCard

    folder = tmp_path / "ds"
    shutil.copytree(published, folder)
    train = DatasetCard.load(folder / "README.md").data.configs[0]["data_files"][0]["path"]
    listed = "".join(f"    - {path}\n" for path in train)
    card = folder / "README.md"
    card.write_text(card.read_text().replace(listed, "".join(f"    - {path}\n" for path in reversed(train)), 1))
    assert train[0] not in card.read_text().split(train[-1])[0]  # now listed after the last
    assert any("its configs name other data files" in p for p in validate.validate(folder))


def test_validate_names_a_split_reordered_in_its_state_and_card_alike(published, tmp_path):
    import shutil

    from broadsheet.publish.stage import render_card

    folder = tmp_path / "ds"
    shutil.copytree(published, folder)
    state = folder / "train" / "state.json"
    found = json.loads(state.read_text())
    found["_data_files"].reverse()  # load_from_disk would give the rows in another order
    state.write_text(json.dumps(found))
    (folder / "README.md").write_text(render_card(folder, PublishParams()))  # the card follows state.json
    assert any("_fingerprint is not that of its Arrow files in this order" in p for p in validate.validate(folder))


def test_validate_names_a_card_of_patterns_where_the_names_do_not_sort_in_order(published, tmp_path):
    import shutil

    folder = tmp_path / "ds"
    shutil.copytree(published, folder)
    card_as_patterns(folder)
    assert any("its configs name other data files" in p for p in validate.validate(folder))


def test_croissant_validates_and_loads_with_mlcroissant(published, cli_env):
    import mlcroissant as mlc

    validated = subprocess.run(
        ["mlcroissant", "validate", "--jsonld", str(published / "croissant.json")],
        capture_output=True,
        text=True,
        env=cli_env,
    )
    assert validated.returncode == 0, validated.stderr[-2000:]

    described = mlc.Dataset(jsonld=str(published / "croissant.json"))
    assert not described.metadata.issues.errors
    records = list(described.records("train"))
    assert len(records) == len(datasets.load_from_disk(str(published))["train"])
    files = [
        d
        for d in json.loads((published / "croissant.json").read_text())["distribution"]
        if d["@type"] == "cr:FileObject"
    ]
    assert all(len(f["sha256"]) == 64 for f in files) and len(files) == len(list((published / "data").iterdir()))


def test_validate_passes_a_sound_folder_and_names_a_quietly_corrupted_shard(published, tmp_path):
    import shutil

    assert validate.validate(published) == []
    broken = tmp_path / "broken"
    shutil.copytree(published, broken)
    shard = sorted((broken / "data").glob("train-*.parquet"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = validate.validate(broken)
    assert problems and all(isinstance(p, str) and "\n" not in p for p in problems)
    assert any(shard.name in p for p in problems)


def test_validate_and_card_commands(published, tmp_path, cli_env):
    ok = subprocess.run(["broadsheet", "validate", str(published)], capture_output=True, text=True, env=cli_env)
    assert ok.returncode == 0 and "ok" in ok.stdout
    missing = subprocess.run(["broadsheet", "validate", str(tmp_path)], capture_output=True, text=True, env=cli_env)
    assert missing.returncode == 1 and "not a published dataset" in missing.stderr
    card = subprocess.run(  # no ./params.yaml here: the built-in defaults, as the folder was published with
        ["broadsheet", "card", str(published)], capture_output=True, text=True, env=cli_env, cwd=tmp_path
    )
    assert card.returncode == 0 and card.stdout == (published / "README.md").read_text()


def opens_everywhere(folder, expect_rows: dict[str, int], tmp_path) -> None:
    """The folder opens in every tool the README names, each split with its rows."""
    import duckdb
    import mlcroissant as mlc
    import pandas as pd
    import polars as pl

    from_disk = datasets.load_from_disk(str(folder))
    assert {split: from_disk[split].num_rows for split in from_disk} == expect_rows
    filled = {split: rows for split, rows in expect_rows.items() if rows}
    if filled:  # datasets cannot load a split of no rows from data files: the card's configs leave such splits out
        loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))
        assert {split: loaded[split].num_rows for split in loaded} == filled
    described = mlc.Dataset(jsonld=str(folder / "croissant.json"))
    for split, rows in expect_rows.items():
        pattern = str(folder / "data" / f"{split}-*.parquet")
        assert pl.read_parquet(pattern).height == rows
        assert duckdb.sql(f"select count(*) from read_parquet('{pattern}')").fetchall()[0][0] == rows
        assert sum(len(pd.read_parquet(p)) for p in (folder / "data").glob(f"{split}-*.parquet")) == rows
        assert len(list(described.records(split))) == rows
    assert validate.validate(folder) == []


@pytest.mark.slow
def test_what_make_run_produces_opens_in_every_tool(tmp_path, env):
    from helpers import make_project, repro

    root = make_project(tmp_path / "p", env, extra_docs=0)  # the shipped sample alone: two splits are empty
    repro(root, env)
    opens_everywhere(root / "corpus" / "dataset", {"train": 1, "validation": 0, "test": 0}, tmp_path)


def test_a_corpus_of_no_documents_opens_everywhere_datasets_can(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "empty.txt").write_bytes(b"")
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    publish.run(tmp_path / "n", tmp_path / "ds", settings(), progress=False)
    opens_everywhere(tmp_path / "ds", {"train": 0, "validation": 0, "test": 0}, tmp_path)
