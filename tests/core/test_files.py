"""Outputs: a command replaces only a folder it wrote itself, whole, one run at a time, through symlinks too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from broadsheet.cli import main
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.files import MARKER, Owner, atomic_dir
from helpers import make_corpus, tree_bytes, write

COMMANDS = ("normalize", "dedup", "publish")


def run_cli(capsys, *argv) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.fixture
def stage_inputs(tmp_path, capsys):
    """A raw folder, its normalize output and its dedup output, made by the commands."""
    make_corpus(tmp_path / "raw", 5)
    assert run_cli(capsys, "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "n"), "-q")[0] == 0
    assert run_cli(capsys, "dedup", str(tmp_path / "n"), "--out", str(tmp_path / "d"), "-q")[0] == 0
    return tmp_path


def command(name: str, root, out) -> list[str]:
    inputs = {"normalize": [str(root / "raw")], "dedup": [str(root / "n")], "publish": [str(root / "n")]}[name]
    return [name, *inputs, "--out", str(out), "-q"]


@pytest.mark.parametrize("name", COMMANDS)
def test_out_folder_with_other_files_is_refused(stage_inputs, capsys, name):
    thesis = write(stage_inputs / "thesis", "thesis.tex", r"\documentclass{article}")
    code, err = run_cli(capsys, *command(name, stage_inputs, stage_inputs / "thesis"))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "holds files broadsheet did not write (thesis.tex" in err and "--force" in err
    assert thesis.read_text() == r"\documentclass{article}"
    assert sorted(p.name for p in stage_inputs.glob(".thesis*")) == []  # no lock file left beside it


@pytest.mark.parametrize("name", COMMANDS)
def test_force_replaces_a_folder_of_other_files(stage_inputs, capsys, name):
    write(stage_inputs / "elsewhere", "notes.txt", "mine")
    assert run_cli(capsys, *command(name, stage_inputs, stage_inputs / "elsewhere"), "--force")[0] == 0
    assert not (stage_inputs / "elsewhere" / "notes.txt").exists()
    assert (stage_inputs / "elsewhere" / MARKER).is_file()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_replaces_its_own_earlier_output_but_not_another_commands(stage_inputs, capsys, name):
    out = stage_inputs / "out"
    assert run_cli(capsys, *command(name, stage_inputs, out))[0] == 0
    first = tree_bytes(out)
    assert run_cli(capsys, *command(name, stage_inputs, out))[0] == 0
    assert tree_bytes(out) == first
    other = next(c for c in COMMANDS if c != name)
    code, err = run_cli(capsys, *command(other, stage_inputs, out))
    assert code == 1 and f"was written by broadsheet {name}" in err
    assert tree_bytes(out) == first


def test_an_output_from_before_markers_is_still_replaced(stage_inputs, capsys):
    (stage_inputs / "n" / MARKER).unlink()  # what an earlier broadsheet left: its own layout, no marker
    assert run_cli(capsys, *command("normalize", stage_inputs, stage_inputs / "n"))[0] == 0
    write(stage_inputs / "n", "mine.txt", "x")
    (stage_inputs / "n" / MARKER).unlink()
    code, err = run_cli(capsys, *command("normalize", stage_inputs, stage_inputs / "n"))
    assert code == 1 and "holds files broadsheet did not write" in err


@pytest.mark.parametrize("name", COMMANDS)
def test_a_symlinked_out_works_on_every_run_and_stays_a_link(stage_inputs, capsys, name):
    (stage_inputs / "real").mkdir()
    os.symlink(stage_inputs / "real", stage_inputs / "link")
    for _ in range(3):
        assert run_cli(capsys, *command(name, stage_inputs, stage_inputs / "link"))[0] == 0
    assert (stage_inputs / "link").is_symlink() and (stage_inputs / "real" / MARKER).is_file()
    assert not [p for p in stage_inputs.iterdir() if "broadsheet-partial" in p.name or "broadsheet-old" in p.name]


OWNER = Owner("test", "none.v1", signature="sig", names=frozenset({"sig", MARKER}))


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    write(tmp_path, "a-file", "x")
    with pytest.raises(BroadsheetError, match="exists and is not a folder"), atomic_dir(tmp_path / "a-file", OWNER):
        pass
    assert (tmp_path / "a-file").read_text() == "x"


def test_a_failed_run_leaves_the_previous_output_and_no_partial_folder(tmp_path):
    with atomic_dir(tmp_path / "out", OWNER) as folder:
        (folder / "sig").write_text("one")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "out", OWNER) as folder:
        (folder / "sig").write_text("two")
        raise RuntimeError("boom")
    assert (tmp_path / "out" / "sig").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.broadsheet-lock", "out"]


def test_a_killed_runs_partial_folder_is_removed_by_the_next_run(tmp_path):
    (tmp_path / ".out.broadsheet-partial-abc123").mkdir()
    (tmp_path / ".out.broadsheet-partial-abc123" / "half").write_text("x")
    with atomic_dir(tmp_path / "out", OWNER) as folder:
        (folder / "sig").write_text("one")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.broadsheet-lock", "out"]


SLOW_CORPUS = 3000


@pytest.mark.slow
def test_two_runs_into_one_out_at_once_leave_one_whole_output(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", SLOW_CORPUS)
    args = [sys.executable, "-m", "broadsheet", "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]
    start = [*args, "-q", "--workers", "1"]
    first = subprocess.Popen(start, env=cli_env, stderr=subprocess.PIPE, text=True)
    # The second starts while the first is writing, certainly: the first is paused once its partial folder is there.
    deadline = time.monotonic() + 120
    while not any("broadsheet-partial" in p.name for p in tmp_path.iterdir()) and first.poll() is None:
        assert time.monotonic() < deadline, "the first run never started writing"
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)
    try:
        second = subprocess.run(start, env=cli_env, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
    results = [(first.wait(timeout=300), first.stderr.read()), (second.returncode, second.stderr)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    assert "another broadsheet run is writing" in next(err for code, err in results if code == 1)
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (tmp_path / "out" / "data").glob("*.parquet"))
    assert rows == SLOW_CORPUS
    assert not [p for p in tmp_path.iterdir() if "broadsheet-partial" in p.name]


def test_read_json_of_a_fifo_or_a_folder_is_one_error_not_a_hang(tmp_path):
    from broadsheet.core.files import read_json

    os.mkfifo(tmp_path / "fifo.json")  # a plain read would wait for a writer
    (tmp_path / "folder.json").mkdir()
    for path in (tmp_path / "fifo.json", tmp_path / "folder.json"):
        with pytest.raises(BroadsheetError, match="cannot read"):
            read_json(path)
