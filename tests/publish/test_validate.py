"""broadsheet validate on damaged and tampered folders: a line per problem, no crash, nothing outside read."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet import normalize, publish
from broadsheet.core.params import CardParams, PublishParams
from broadsheet.publish import layout, validate
from helpers import make_corpus, settings


@pytest.fixture(scope="module")
def sound(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    make_corpus(root / "raw", 60)
    normalize.run([root / "raw"], root / "n", settings(workers=1), progress=False)
    publish.run(root / "n", root / "ds", settings(PublishParams(shard_rows=10)), progress=False)
    return root / "ds"


@pytest.fixture
def copy(sound, tmp_path):
    shutil.copytree(sound, tmp_path / "ds")
    return tmp_path / "ds"


def problems_of(folder) -> list[str]:
    found = validate.validate(folder)
    assert all(isinstance(p, str) and "\n" not in p for p in found)
    return found


def croissant(folder, change) -> None:
    path = folder / "croissant.json"
    described = json.loads(path.read_text())
    path.write_text(json.dumps(change(described)))


def first_file_object(described: dict) -> dict:
    return next(d for d in described["distribution"] if d["@type"] == "cr:FileObject")


def test_a_sound_folder_has_no_problem(sound):
    assert problems_of(sound) == []


def test_a_missing_state_json_is_a_load_from_disk_problem(copy):
    (copy / "train" / "state.json").unlink()
    assert any("load_from_disk cannot open it" in p for p in problems_of(copy))


def test_a_truncated_manifest_shard_is_a_problem(copy):
    part = sorted((copy / "manifest").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:100])
    assert any(part.name in p and "unreadable" in p for p in problems_of(copy))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: [], "not a Croissant description"),
        (lambda d: {**d, "distribution": "x"}, "not a Croissant description"),
        (lambda d: first_file_object(d).update(contentUrl=12) or d, "without a contentUrl"),
        (
            lambda d: first_file_object(d).update(contentUrl="../../../../etc/passwd") or d,
            "outside the published folder",
        ),
        (lambda d: first_file_object(d).update(contentUrl="/etc/passwd") or d, "outside the published folder"),
    ],
)
def test_a_tampered_croissant_file_is_a_problem_and_nothing_outside_is_opened(copy, monkeypatch, change, expected):
    opened = []
    real = validate.sha256_file
    monkeypatch.setattr(validate, "sha256_file", lambda path: opened.append(str(path)) or real(path))
    croissant(copy, change)
    assert any(expected in p for p in problems_of(copy))
    assert not any("passwd" in path for path in opened)


def test_a_card_that_is_not_utf8_is_a_problem(copy):
    (copy / "README.md").write_bytes(b"---\npretty_name: \xff\n---\n")
    assert any("README.md: unreadable" in p for p in problems_of(copy))


def test_a_card_holding_a_yaml_bomb_is_a_problem_not_a_hang(copy):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh")
    )
    (copy / "README.md").write_text(f"---\n{bomb}---\n")
    assert any("anchor or alias" in p for p in problems_of(copy))


def test_a_pretty_name_holding_three_dashes_validates_as_the_hub_reads_it(tmp_path, sound):
    card = CardParams(pretty_name="News --- and more\n---\nnot the end")
    publish.run(sound.parent / "n", tmp_path / "ds", settings(PublishParams(card=card)), progress=False)
    assert problems_of(tmp_path / "ds") == []
    from huggingface_hub import DatasetCard

    assert DatasetCard.load(tmp_path / "ds" / "README.md").data.pretty_name == card.pretty_name


def _with_edited_text(path) -> None:
    """Rewrite one shard, Arrow or Parquet, with its first text changed and its text_sha256 kept."""
    # Read into memory, not mapped: the file is rewritten below.
    table = layout.read_arrow(path, mapped=False) if path.suffix == ".arrow" else pq.read_table(path)
    texts = table.column("text").to_pylist()
    texts[0] = "tampered " + texts[0]
    table = table.set_column(table.schema.get_field_index("text"), table.schema.field("text"), pa.array(texts))
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)


def test_a_tampered_text_in_either_copy_is_a_problem(copy):
    parquet = sorted((copy / "data").glob("train-*.parquet"))[0]
    _with_edited_text(parquet)
    found = problems_of(copy)
    assert any(parquet.name in p and "do not match their text_sha256" in p for p in found)
    assert any("the Parquet export of train differs" in p for p in found)
    arrow = sorted((copy / "train").glob("data-*.arrow"))[0]
    _with_edited_text(arrow)
    assert any(arrow.name in p and "do not match their text_sha256" in p for p in problems_of(copy))
