"""Edges a hostile review found: each was a traceback, a hang, a lost file or a wrong answer before."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import zlib

import pytest

from broadsheet import dedup, normalize, publish
from broadsheet.cli import main
from broadsheet.core import params, yamlfile
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER
from broadsheet.publish import validate
from broadsheet.publish.stage import Inputs
from helpers import card_as_patterns, make_corpus, settings, write


def tar_header(name: bytes, size: int, kind: bytes = b"0") -> bytes:
    h = bytearray(512)
    h[0 : len(name)] = name
    h[100:108], h[108:116], h[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    h[124:136], h[136:148], h[156:157], h[257:265] = b"%011o\0" % size, b"00000000000\0", kind, b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pax(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body)
    for _ in range(3):
        n = len(str(n).encode()) + len(body)
    return str(n).encode() + body


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def normalize_under_limits(raw, out, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "broadsheet",
            "normalize",
            str(raw),
            "--out",
            str(out),
            "--workers",
            "1",
            "--json",
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
    )


def test_a_gzip_shard_of_megabyte_member_names_is_damage_in_bounded_memory(tmp_path, cli_env):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(write(tmp_path / "raw", "names.tar.gz", b""), "wb") as f:
        for i in range(300):
            record = pax(b"path", b"%06d" % i + b"a" * 1_000_000 + b".txt")
            f.write(packer.compress(tar_header(b"P", len(record), b"x") + record + bytes(-len(record) % 512)))
            f.write(packer.compress(tar_header(b"x.txt", 0)))
        f.write(packer.compress(bytes(1024)) + packer.flush())
    done = normalize_under_limits(tmp_path / "raw", tmp_path / "out", cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"damaged_archive": 1' in done.stdout


def test_a_gzip_shard_that_inflates_a_thousandfold_is_damage_after_its_first_member(tmp_path, cli_env):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(write(tmp_path / "raw", "bomb.tar.gz", b""), "wb") as f:
        for i in range(50):
            size = (8 << 20) - 1024
            f.write(packer.compress(tar_header(b"m%06d.txt" % i, size)))
            for _ in range(8):
                f.write(packer.compress(b"A" * (1 << 20)))
        f.write(packer.flush())
    done = normalize_under_limits(tmp_path / "raw", tmp_path / "out", cli_env)
    assert done.returncode == 0 and '"damaged_archive": 1' in done.stdout, done.stderr[-2000:]


def test_broadsheet_alone_prints_its_help(cli_env):
    done = subprocess.run([sys.executable, "-m", "broadsheet"], env=cli_env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("Usage: broadsheet") and "\\x0a" not in done.stdout


def test_a_file_someone_put_in_a_stages_output_is_not_deleted_without_force(tmp_path, capsys):
    make_corpus(tmp_path / "raw", 3)
    normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    write(tmp_path / "n", "notes.txt", "mine")
    with pytest.raises(SystemExit) as stopped:
        main(["normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "n"), "-q"])
    assert stopped.value.code == 1 and "holds files broadsheet did not write (notes.txt" in capsys.readouterr().err
    assert (tmp_path / "n" / "notes.txt").read_text() == "mine"


def test_output_folders_take_the_umask_like_any_folder(tmp_path):
    make_corpus(tmp_path / "raw", 2)
    old = os.umask(0o022)
    try:
        normalize.run([tmp_path / "raw"], tmp_path / "n", settings(workers=1), progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "n").stat().st_mode & 0o777 == 0o755


def test_a_hex_integer_of_thousands_of_digits_is_refused_as_one_line():
    with pytest.raises(BroadsheetError, match="an integer of 5000 digits"):
        yamlfile.parse("dedup:\n  seed: 0x" + "f" * 5000 + "\n", "params.yaml")


@pytest.mark.parametrize("encoding", ["undefined", "unicode_escape", "utf-16", "utf-7", "base64"])
def test_an_encoding_that_does_not_read_ascii_as_ascii_is_no_legacy_encoding(encoding):
    with pytest.raises(BroadsheetError, match="is not a text encoding"):
        params.parse({"normalize": {"legacy_encodings": [encoding]}})


def test_a_float_written_1e_3_is_a_float_as_dvc_reads_it():
    assert params.parse({"dedup": {"threshold": "8e-1"}}).dedup.threshold == 0.8


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("edges")
    make_corpus(root / "raw", 20)
    normalize.run([root / "raw"], root / "n", settings(workers=1), progress=False)
    dedup.run(root / "n", root / "d", settings(workers=1), progress=False)
    publish.run(Inputs(root / "n", duplicates=root / "d"), root / "ds", settings(), progress=False)
    return root


def copy_of(published, tmp_path):
    import shutil

    shutil.copytree(published / "ds", tmp_path / "ds")
    return tmp_path / "ds"


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda ds: (ds / "croissant.json").write_text("[" * 100_000 + "]" * 100_000), "croissant.json: unreadable"),
        (
            lambda ds: (ds / "croissant.json").write_text(
                '{"distribution": [{"@type": "cr:FileObject", "contentUrl": "a\\u0000b"}]}'
            ),
            "outside the published folder",
        ),
        (lambda ds: (ds / "README.md").write_text("---\ndataset_info: null\n---\n"), "no valid YAML metadata"),
        (lambda ds: (ds / "README.md").write_text("---\ndataset_info: [1]\n---\n"), "no valid YAML metadata"),
        (lambda ds: _croissant_url(ds, "../loop"), "outside the published folder"),  # a loop of links
        (lambda ds: _croissant_url(ds, "a" * 5000), "unreadable: File name too long"),
        (lambda ds: _state_names(ds, "../../elsewhere/data-00000-of-00001.arrow"), "not the split's Arrow files"),
        (lambda ds: _card_path(ds, "../elsewhere/data/train-*.parquet"), "its configs name other data files"),
        (lambda ds: _card_path(ds, "/tmp/data/train-*.parquet"), "its configs name other data files"),
        (lambda ds: _not_utf8(sorted((ds / "train").glob("*.arrow"))[0]), "invalid data"),
    ],
)
def test_validate_lists_more_damage_as_problems(published, tmp_path, damage, expected):
    folder = copy_of(published, tmp_path)
    damage(folder)
    assert any(expected in p for p in validate.validate(folder))


def test_a_card_of_patterns_validates_where_the_names_sort_in_order(published, tmp_path):
    folder = copy_of(published, tmp_path)  # one shard in each split: names in order
    card_as_patterns(folder)
    assert validate.validate(folder) == []


def _not_utf8(path):
    """A byte that is never UTF-8 where a text had a paragraph break."""
    data = bytearray(path.read_bytes())
    data[data.index(b"\n\n")] = 0xFF
    path.write_bytes(bytes(data))


def _croissant_url(folder, url):
    (folder.parent / "loop").symlink_to(folder.parent / "loop")
    croissant = folder / "croissant.json"
    described = json.loads(croissant.read_text())
    described["distribution"].append({"@type": "cr:FileObject", "contentUrl": url, "sha256": "0" * 64})
    croissant.write_text(json.dumps(described))


def _state_names(folder, name):
    state = folder / "train" / "state.json"
    found = json.loads(state.read_text())
    found["_data_files"] = [{"filename": name}]
    state.write_text(json.dumps(found))


def _card_path(folder, path):
    card = folder / "README.md"
    text = card.read_text()
    assert "\n    - data/train-" in text  # the first of the train split's files, as the card lists them
    card.write_text(text.replace("\n    - data/train-", f"\n    - {path}\n    - data/train-", 1))


def _as_cache_object(path, cache, md5=None):
    """Move ``path`` into a DVC-3-shaped cache under ``cache`` (named by its md5, or ``md5``) and link it back."""
    digest = md5 or hashlib.md5(path.read_bytes()).hexdigest()
    target = cache / "files" / "md5" / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    path.rename(target)
    path.symlink_to(target)
    return target


def test_validate_follows_a_link_to_a_cache_object_named_by_its_md5_and_no_other(published, tmp_path):
    folder = copy_of(published, tmp_path)
    shard = next((folder / "train").glob("*.arrow"))
    _as_cache_object(shard, tmp_path / "cache")
    assert validate.validate(folder) == []
    card = folder / "README.md"
    _as_cache_object(card, tmp_path / "cache", md5="ab" + "0" * 30)  # the cache's shape, not its name
    assert [p for p in validate.validate(folder)] == [f"{card} is a symbolic link: not followed, nothing else checked"]


@pytest.mark.parametrize("special", ["fifo", "fifo_behind_a_cache_link"])
def test_validate_reads_no_fifo_in_the_folder(published, tmp_path, special):
    folder = copy_of(published, tmp_path)
    card = folder / "README.md"
    if special == "fifo":
        card.unlink()
        os.mkfifo(card)
        expected = "is not a regular file"
    else:
        target = _as_cache_object(card, tmp_path / "cache")
        target.unlink()
        os.mkfifo(target)
        expected = "is a symbolic link"
    problems = validate.validate(folder)
    assert len(problems) == 1 and expected in problems[0]


def test_validate_follows_no_link_out_of_the_folder(published, tmp_path):
    folder = copy_of(published, tmp_path)
    shard = next((folder / "data").glob("train-*.parquet"))
    shard.unlink()
    shard.symlink_to("/etc/passwd")
    problems = validate.validate(folder)
    assert problems and all("is a symbolic link" in p for p in problems)


def test_dedup_and_publish_refuse_folders_of_the_wrong_kind_or_corpus(published, tmp_path):
    with pytest.raises(BroadsheetError, match="not a complete normalize output"):
        dedup.run(published / "ds", tmp_path / "d", settings(workers=1), progress=False)
    with pytest.raises(BroadsheetError, match="not a complete normalize output"):
        publish.run(published / "ds", tmp_path / "x", settings(), progress=False)
    make_corpus(tmp_path / "other", 5)
    normalize.run([tmp_path / "other"], tmp_path / "n2", settings(workers=1), progress=False)
    with pytest.raises(BroadsheetError, match="made from another normalize output"):
        publish.run(Inputs(tmp_path / "n2", duplicates=published / "d"), tmp_path / "y", settings(), progress=False)
    assert (published / "ds" / MARKER).is_file()


def test_a_version_may_not_be_named_like_a_branch_or_head(tmp_path, env):
    from broadsheet.versions import release
    from helpers import sh

    sh(tmp_path, env, "git", "init", "-q", "-b", "main")
    sh(tmp_path, env, "git", "commit", "-q", "--allow-empty", "-m", "x")
    for name in ("HEAD", "main"):
        with pytest.raises(BroadsheetError, match="already names a branch or commit"):
            release._check_ready(tmp_path, name, push=False)
