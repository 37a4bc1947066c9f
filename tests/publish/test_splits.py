"""Stable splits: a document's split is a function of its id alone, so it never moves between versions."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq
import pytest

from broadsheet import normalize, publish
from broadsheet.core.params import PublishParams
from broadsheet.publish.splits import split_of, splits_of
from helpers import key, make_corpus, settings

IDS = [key(n) for n in range(600)]
RATIOS = PublishParams().splits


def test_the_splits_of_known_ids_never_change():
    # If this fails, every published corpus's documents would move between splits: test data leaking into train.
    assert {i: split_of(i, RATIOS) for i in ("6b86b273ff34fce1", "6b51d431df5d7f14", "7a61b53701befdae")} == {
        "6b86b273ff34fce1": "train",
        "6b51d431df5d7f14": "validation",
        "7a61b53701befdae": "test",
    }


def test_splits_take_their_share_of_the_documents():
    counts = {name: sum(split_of(key(n), RATIOS) == name for n in range(10_000)) for name in RATIOS}
    assert 7700 < counts["train"] < 8300 and 800 < counts["validation"] < 1200 and 800 < counts["test"] < 1200


def one_by_one(doc_id: str, ratios: dict[str, float]) -> str:
    """The rule in Python numbers, one id at a time."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, person=b"bs-split").digest()
    point, upper = int.from_bytes(digest, "big") / 2**64, 0.0
    for name in ratios:
        upper += ratios[name]
        if point < upper:
            return name
    return next(name for name in reversed(ratios) if ratios[name] > 0)


@pytest.mark.parametrize(
    "ratios",
    [RATIOS, {"train": 0.333, "validation": 0.333, "test": 0.333}, {"train": 0.0, "validation": 0.5, "test": 0.5}],
)
def test_the_splits_of_many_ids_at_once_are_the_rule_one_by_one(ratios):
    ids = [key(n) for n in range(5000)] + ["", "é", "\u2028", "a" * 1000]
    assert splits_of(ids, ratios).to_pylist() == [one_by_one(i, ratios) for i in ids]


def test_a_zero_ratio_split_gets_nothing():
    ratios = {"train": 1.0, "validation": 0.0, "test": 0.0}
    assert {split_of(i, ratios) for i in IDS} == {"train"}


def manifest_splits(folder) -> dict[str, str]:
    table = pq.read_table(folder / "manifest", columns=["id", "split"])
    return dict(zip(table.column("id").to_pylist(), table.column("split").to_pylist()))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_documents_split_does_not_depend_on_the_other_documents(tmp_path, workers):
    make_corpus(tmp_path / "v1", 60)
    make_corpus(tmp_path / "v2", 40, start=20)  # 20 removed, 20 kept, 20 added
    make_corpus(tmp_path / "v2", 20, start=100)
    splits = {}
    for version in ("v1", "v2"):
        normalize.run([tmp_path / version], tmp_path / f"{version}-n", settings(workers=workers), progress=False)
        publish.run(tmp_path / f"{version}-n", tmp_path / f"{version}-ds", settings(), progress=False)
        splits[version] = manifest_splits(tmp_path / f"{version}-ds")
    common = set(splits["v1"]) & set(splits["v2"])
    assert len(common) == 40 and len(set(splits["v2"].values())) == 3
    assert all(splits["v1"][i] == splits["v2"][i] for i in common)
