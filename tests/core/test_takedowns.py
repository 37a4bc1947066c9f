"""takedowns.csv: hand-editable, validated with one line per mistake, appended to by `broadsheet takedown`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from broadsheet.core import takedowns
from broadsheet.core.errors import BroadsheetError

GOOD = "id,reason,date\n0123456789abcdef,copyright claim,2026-11-30\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("ids,reason,date\n", "must start with the header id,reason,date"),
        ("id,reason,date\nnot-an-id,x,2026-11-30\n", "line 2: 'not-an-id' is not a document id"),
        ("id,reason,date\n0123456789ABCDEF,x,2026-11-30\n", "is not a document id"),
        ("id,reason,date\n0123456789abcdef,x,30/11/2026\n", "line 2: '30/11/2026' is not a date"),
        ("id,reason,date\n0123456789abcdef,,2026-11-30\n", "the reason must be one line"),
        ("id,reason,date\n0123456789abcdef,x,2026-11-30,extra\n", "expected 3 columns"),
        (GOOD + "0123456789abcdef,again,2026-12-01\n", "line 3: id 0123456789abcdef is taken down twice"),
    ],
)
def test_a_malformed_takedowns_file_is_one_line_naming_the_row(text, message):
    with pytest.raises(BroadsheetError, match=message):
        takedowns.parse(text)


def test_a_good_file_and_blank_lines_parse_and_a_missing_file_is_no_takedown(tmp_path):
    assert takedowns.parse(GOOD + "\n")["0123456789abcdef"].reason == "copyright claim"
    assert takedowns.read(tmp_path / "none.csv") == {}
    (tmp_path / "bad.csv").write_bytes(b"id,reason,date\n\xff\n")
    with pytest.raises(BroadsheetError, match="not UTF-8"):
        takedowns.read(tmp_path / "bad.csv")


def test_the_takedown_command_appends_and_refuses_an_id_twice(tmp_path, cli_env):
    def takedown(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "broadsheet", "takedown", *args],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
        )

    done = takedown(
        "0123456789abcdef", "fedcba9876543210", "--reason", "privacy, at the subject's request", "--date", "2026-11-30"
    )
    assert done.returncode == 0, done.stderr
    listed = takedowns.read(tmp_path / "takedowns.csv")
    assert sorted(listed) == ["0123456789abcdef", "fedcba9876543210"]
    assert listed["fedcba9876543210"].reason == "privacy, at the subject's request"  # a comma, quoted by csv
    again = takedown("0123456789abcdef", "--reason", "again")
    assert again.returncode == 1 and "already taken down" in again.stderr and again.stderr.count("\n") == 1
    bad = takedown("xyz", "--reason", "r")
    assert bad.returncode == 1 and "is not a document id" in bad.stderr
    assert sorted(takedowns.read(tmp_path / "takedowns.csv")) == ["0123456789abcdef", "fedcba9876543210"]
