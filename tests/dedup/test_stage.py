"""Exact and near duplicates: found, explained, the same whatever the order or worker count."""

from __future__ import annotations

import random
import shutil

import datasets
import pyarrow.parquet as pq
import pytest

import slow_minhash
from broadsheet import dedup, normalize, publish
from broadsheet.core.params import DedupParams
from broadsheet.dedup import minhash
from broadsheet.dedup import stage as dedup_stage
from broadsheet.publish.stage import Inputs
from helpers import settings, tree_bytes, write

VOCAB = [f"{w}{i}" for i, w in enumerate("alpha beta gamma delta epsilon zeta eta theta iota kappa".split() * 40)]


def story(rng: random.Random, paragraphs: int = 6, words: int = 50) -> list[str]:
    return [" ".join(rng.choice(VOCAB) for _ in range(words)) + "." for _ in range(paragraphs)]


def as_file(title: str, paragraphs: list[str]) -> str:
    return title + "\n" + "\n".join(paragraphs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """60 distinct stories plus planted duplicates: exact copies, a changed sentence, a dropped paragraph."""
    root = tmp_path_factory.mktemp("dedup") / "raw"
    rng = random.Random(7)
    stories = {n: story(rng) for n in range(60)}
    for n, paragraphs in stories.items():
        write(root, f"{n:03d}_{n:016x}.txt", as_file(f"Story {n}", paragraphs))
    write(root, "copies/500_00000000000001f4.txt", as_file("Story 3 again", stories[3]))  # exact (title differs)
    write(root, "copies/501_00000000000001f5.txt", as_file("Story 3", stories[3]))  # exact
    edited = list(stories[10])
    edited[2] = " ".join(edited[2].split()[:-5]) + " with a few words changed here."
    write(root, "copies/502_00000000000001f6.txt", as_file("Story 10", edited))  # near
    write(root, "copies/503_00000000000001f7.txt", as_file("Story 20", stories[20][:5]))  # near: a paragraph dropped
    write(
        root, "copies/504_00000000000001f8.txt", as_file("Story 30", stories[30][:3] + stories[31][3:])
    )  # half: not a dup
    return root


def decisions(folder):
    return {row["id"]: row for row in pq.read_table(folder / "duplicates.parquet").to_pylist()}


@pytest.fixture(scope="module")
def deduped(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("dedup-out")
    normalize.run([corpus], out / "n", settings(workers=1), progress=False)
    metrics = dedup.run(out / "n", out / "d", settings(DedupParams(), workers=2), progress=False)
    return out, metrics


def test_exact_and_near_duplicates_are_found_with_the_kept_copy_named(deduped):
    out, metrics = deduped
    found = decisions(out / "d")
    assert found[f"{500:016x}"] == {**found[f"{500:016x}"], "cluster": f"{3:016x}", "kind": "exact", "similarity": 1.0}
    assert found[f"{501:016x}"]["kind"] == "exact" and found[f"{501:016x}"]["cluster"] == f"{3:016x}"
    assert found[f"{3:016x}"]["kind"] == "kept"
    assert found[f"{502:016x}"]["cluster"] == f"{10:016x}" and found[f"{502:016x}"]["kind"] == "near"
    assert 0.8 <= found[f"{502:016x}"]["similarity"] < 1.0
    assert found[f"{503:016x}"]["cluster"] == f"{20:016x}" and found[f"{503:016x}"]["kind"] == "near"
    assert f"{504:016x}" not in found  # half of one story, half of another: below the threshold
    assert metrics == {**metrics, "clusters": 3, "exact_duplicates": 2, "near_duplicates": 2}


def test_the_kept_member_is_first_in_source_order_not_first_found(corpus, tmp_path):
    src = tmp_path / "raw"
    shutil.copytree(corpus, src)
    (src / "000_0000000000000000.txt").rename(src / "zzz_moved.txt")  # story 0 loses its ordinal
    write(src, "copies/001_aaaaaaaaaaaaaaaa.txt", (corpus / "000_0000000000000000.txt").read_text())
    normalize.run([src], tmp_path / "n", settings(workers=1), progress=False)
    dedup.run(tmp_path / "n", tmp_path / "d", settings(workers=1), progress=False)
    found = decisions(tmp_path / "d")
    assert found["aaaaaaaaaaaaaaaa"]["kind"] == "kept"  # ordinal 1 comes before a file without one


def test_decisions_do_not_depend_on_file_order_or_workers(corpus, tmp_path, deduped):
    out, _ = deduped
    shuffled = tmp_path / "shuffled"
    files = sorted(p for p in corpus.rglob("*.txt"))
    random.Random(3).shuffle(files)
    for path in files:  # copied in another order, to other folder names
        write(shuffled, str(path.relative_to(corpus)), path.read_bytes())
        shutil.copystat(path, shuffled / path.relative_to(corpus))
    normalize.run([shuffled], tmp_path / "n", settings(workers=2), progress=False)
    dedup.run(tmp_path / "n", tmp_path / "d", settings(workers=1), progress=False)
    assert tree_bytes(tmp_path / "d") == tree_bytes(out / "d")


def test_the_workers_decide_as_this_process_does(deduped, tmp_path, monkeypatch):
    out, _ = deduped
    monkeypatch.setattr(dedup_stage, "INLINE_ROWS", 0)  # a corpus this small is hashed here unless told
    dedup.run(out / "n", tmp_path / "d", settings(DedupParams(), workers=2), progress=False)
    assert tree_bytes(tmp_path / "d") == tree_bytes(out / "d")


def test_decisions_equal_those_of_a_straightforward_minhash(deduped, tmp_path, monkeypatch):
    # One worker runs in this process, so the slow reference replaces the fast signatures and shingle sets.
    out, _ = deduped
    monkeypatch.setattr(minhash, "signatures", slow_minhash.signatures)
    monkeypatch.setattr(minhash, "shingle_sets", slow_minhash.shingle_sets)
    dedup.run(out / "n", tmp_path / "d", settings(DedupParams(), workers=1), progress=False)
    assert (tmp_path / "d" / "duplicates.parquet").read_bytes() == (out / "d" / "duplicates.parquet").read_bytes()


def test_publish_drops_per_param_and_counts_every_document(deduped, tmp_path):
    out, _ = deduped
    sizes = {}
    for drop in ("none", "exact", "near"):
        metrics = publish.run(
            Inputs(out / "n", duplicates=out / "d"), tmp_path / drop, settings(drop=drop), progress=False
        )
        loaded = datasets.load_from_disk(str(tmp_path / drop))
        sizes[drop] = sum(len(s) for s in loaded.values())
        assert metrics["documents"] == sizes[drop]
        assert (
            metrics["input_files"]
            == metrics["documents"]
            + metrics["deduplicated"]
            + metrics["rejected"]
            + metrics["skipped"]
            + metrics["filtered"]
        )
    assert sizes == {"none": 65, "exact": 63, "near": 61}


def test_lsh_candidates_below_the_threshold_are_not_reported_as_duplicates(tmp_path):
    # Few rows per band: pairs sharing half their shingles become LSH candidates, and only the exact check rejects them.
    rng = random.Random(11)
    base = story(rng, 6, 40)
    write(tmp_path / "raw", "000_0000000000000000.txt", as_file("Base", base))
    for n in range(1, 6):  # half of base's paragraphs, half new: Jaccard near 1/3
        write(tmp_path / "raw", f"{n:03d}_{n:016x}.txt", as_file(f"Half {n}", base[:3] + story(rng, 3, 40)))
    edited = [*base[:5], base[5] + " One more sentence."]
    write(tmp_path / "raw", "009_0000000000000009.txt", as_file("Edited", edited))  # a true near duplicate
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    loose = DedupParams(num_perm=128, bands=64, rows=2)
    metrics = dedup.run(tmp_path / "n", tmp_path / "d", settings(loose, workers=1), progress=False)
    found = decisions(tmp_path / "d")
    assert metrics["candidate_pairs"] >= 5 > metrics["verified_pairs"] == 1
    assert found["0000000000000009"]["kind"] == "near" and found["0000000000000009"]["cluster"] == "0000000000000000"
    assert set(found) == {"0000000000000000", "0000000000000009"}
    assert all(row["similarity"] >= loose.threshold for row in found.values())


def test_bands_times_rows_must_equal_permutations():
    from broadsheet.core.errors import BroadsheetError
    from broadsheet.core.params import parse

    with pytest.raises(BroadsheetError, match="must equal dedup.num_perm"):
        parse({"dedup": {"num_perm": 100, "bands": 16, "rows": 8}})
