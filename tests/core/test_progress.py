"""Progress on stderr: a line every few seconds when it is not a terminal; one summary line at the end."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from broadsheet.core import progress
from helpers import make_corpus


def test_progress_prints_a_line_every_interval_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    stream = io.StringIO()
    with progress.Progress("normalize", "doc", total=200, stream=stream) as bar:
        bar.update(50)
        bar.update(150)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("normalize: 50/200 doc (25%)") and lines[-1].startswith("normalize: 200/200 doc (100%)")


def test_progress_is_silent_when_disabled(monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    stream = io.StringIO()
    with progress.Progress("normalize", "doc", total=2, enabled=False, stream=stream) as bar:
        bar.update(2)
    assert stream.getvalue() == ""


def test_each_stage_ends_with_one_summary_line_and_json_only_when_asked(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", 4)
    broadsheet = [sys.executable, "-m", "broadsheet"]
    steps = [
        (["normalize", "raw", "--out", "n"], "normalize: 4 inputs: 4 documents, 0 rejected, 0 skipped, 0 filtered; "),
        (["dedup", "n", "--out", "d"], "dedup: 4 documents: 0 clusters, 0 exact and 0 near duplicates; "),
        (["publish", "n", "--duplicates", "d", "--out", "ds"], "publish: 4 documents (train "),
    ]
    for args, summary in steps:
        done = subprocess.run([*broadsheet, *args], cwd=tmp_path, env=cli_env, capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout == "", done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith(summary) and done.stderr.endswith(" s\n")
    done = subprocess.run(
        [*broadsheet, "normalize", "raw", "--out", "n", "--json", "-q"],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert done.stderr == "" and json.loads(done.stdout)["documents"] == 4
