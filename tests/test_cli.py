"""The command line: one readable error line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from broadsheet.cli import main
from helpers import make_corpus, write


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("broadsheet: error: ")
    return lines[0]


def test_missing_source_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "normalize", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert code == 1
    assert "source folder" in one_error_line(err) and "does not exist" in err


def test_unknown_param(capsys, tmp_path):
    write(tmp_path, "params.yaml", "normalize:\n  workerz: 3\n")
    make_corpus(tmp_path / "raw", 1)
    code, _, err = run_cli(
        capsys,
        "normalize",
        str(tmp_path / "raw"),
        "--out",
        str(tmp_path / "o"),
        "--params",
        str(tmp_path / "params.yaml"),
    )
    assert code == 1
    assert "unknown setting normalize.workerz" in one_error_line(err)


def test_ill_typed_param(capsys, tmp_path):
    write(tmp_path, "params.yaml", "publish:\n  shard_rows: lots\n")
    code, _, err = run_cli(
        capsys, "publish", str(tmp_path), "--out", str(tmp_path / "o"), "--params", str(tmp_path / "params.yaml")
    )
    assert code == 1
    assert "publish.shard_rows must be int" in one_error_line(err)


def test_missing_params_file(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, "normalize", str(tmp_path), "--out", str(tmp_path / "o"), "--params", str(tmp_path / "x.yaml")
    )
    assert code == 1
    assert "cannot read params file" in one_error_line(err)


def test_unwritable_output_folder(capsys, tmp_path):
    make_corpus(tmp_path / "raw", 1)
    write(tmp_path, "a-file", "x")
    code, _, err = run_cli(capsys, "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "a-file" / "out"))
    assert code == 1
    assert "cannot write output folder" in one_error_line(err)


def test_bad_option_value_and_missing_argument(capsys, tmp_path):
    code, _, err = run_cli(capsys, "normalize", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "-1")
    assert code == 2 and "--workers" in one_error_line(err)
    code, _, err = run_cli(capsys, "normalize", "--out", str(tmp_path / "o"))
    assert code == 2 and "Missing argument" in one_error_line(err)
    code, _, err = run_cli(capsys, "frobnicate")
    assert code == 2 and "No such command" in one_error_line(err)


def test_normalize_then_publish_print_metrics_and_write_metrics_files(capsys, tmp_path):
    make_corpus(tmp_path / "raw", 5)
    code, out, _ = run_cli(
        capsys,
        "normalize",
        str(tmp_path / "raw"),
        "--out",
        str(tmp_path / "n"),
        "--metrics",
        str(tmp_path / "m/n.json"),
        "--json",
    )
    assert code == 0
    assert '"documents": 5' in out and (tmp_path / "m/n.json").read_text() == (tmp_path / "n/metrics.json").read_text()
    code, out, _ = run_cli(capsys, "publish", str(tmp_path / "n"), "--out", str(tmp_path / "d"), "-q")
    assert out == "" and (tmp_path / "d" / "dataset_dict.json").is_file()


def test_the_installed_command_prints_no_traceback(tmp_path, cli_env):
    result = subprocess.run(
        [sys.executable, "-m", "broadsheet", "publish", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=cli_env,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("broadsheet: error:")


def test_help_lists_the_commands(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "normalize" in out and "publish" in out


@pytest.mark.parametrize("out", ["raw", "raw/inside", "."])
def test_an_output_folder_overlapping_the_source_is_refused_and_nothing_is_touched(capsys, tmp_path, out):
    make_corpus(tmp_path / "raw", 2)
    code, _, err = run_cli(capsys, "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / out))
    assert code == 1
    assert "overlaps input" in one_error_line(err)
    assert len(list((tmp_path / "raw").iterdir())) == 2


def test_every_command_reads_the_params_yaml_of_the_current_folder_by_default(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", 4)
    write(tmp_path, "params.yaml", "filter:\n  min_words: 5\npublish:\n  card:\n    pretty_name: From the file\n")

    def broadsheet(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "broadsheet", *args], cwd=tmp_path, env=cli_env, capture_output=True, text=True
        )

    assert '"filtered": 0' in broadsheet("normalize", "raw", "--out", "n", "--json").stdout
    write(tmp_path, "params.yaml", "filter:\n  min_words: 1000\npublish:\n  card:\n    pretty_name: From the file\n")
    assert '"filtered": 4' in broadsheet("normalize", "raw", "--out", "n2", "--json").stdout
    assert broadsheet("publish", "n", "--out", "ds").returncode == 0
    assert "# From the file" in (tmp_path / "ds" / "README.md").read_text()
    write(tmp_path, "params.yaml", "publish:\n  card:\n    pretty_name: Edited\n")
    assert "# Edited" in broadsheet("card", "ds").stdout
    before = (tmp_path / "ds" / "README.md").read_text()
    refused = broadsheet("card", "ds", "-o", "ds/README.md")
    assert refused.returncode == 1 and "an output a broadsheet stage wrote" in refused.stderr
    assert (tmp_path / "ds" / "README.md").read_text() == before
    assert broadsheet("card", "ds", "-o", "ds/README.md", "--force").returncode == 0
    assert "# Edited" in (tmp_path / "ds" / "README.md").read_text()
