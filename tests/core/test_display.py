"""Names and text from the data are printed as one safe line: no terminal escapes, no split lines, no reordering."""

from __future__ import annotations

import os
import subprocess
import sys

from broadsheet.core.display import printable
from helpers import article, make_corpus, write


def test_controls_newlines_and_directional_marks_are_escaped():
    assert (
        printable("a\x1b[31mred\x1b[0m\nnext\u202etxt.exe\u2028")
        == "a\\x1b[31mred\\x1b[0m\\x0anext\\u202etxt.exe\\u2028"
    )
    assert printable("Grüße, 文章 – ok") == "Grüße, 文章 – ok"


def test_diff_prints_a_hostile_file_name_as_one_escaped_line(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", 3)
    broadsheet = [sys.executable, "-m", "broadsheet"]
    subprocess.run(
        [*broadsheet, "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "n1"), "-q"], check=True, env=cli_env
    )
    subprocess.run(
        [*broadsheet, "publish", str(tmp_path / "n1"), "--out", str(tmp_path / "a"), "-q"], check=True, env=cli_env
    )
    write(tmp_path / "raw", os.fsdecode(b"evil\x1b[2J\nname.txt"), article(9))
    subprocess.run(
        [*broadsheet, "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "n2"), "-q"], check=True, env=cli_env
    )
    subprocess.run(
        [*broadsheet, "publish", str(tmp_path / "n2"), "--out", str(tmp_path / "b"), "-q"], check=True, env=cli_env
    )
    shown = subprocess.run(
        [*broadsheet, "diff", str(tmp_path / "a"), str(tmp_path / "b")], capture_output=True, text=True, env=cli_env
    )
    assert shown.returncode == 0 and "\x1b" not in shown.stdout
    added = [line for line in shown.stdout.splitlines() if "evil" in line]
    assert added == [added[0]] and "evil\\x1b[2J\\x0aname.txt  [a new raw file]" in added[0]
