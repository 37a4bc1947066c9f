"""params.yaml as a hostile or careless world writes it: one line and exit 1, in bounded time and memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from helpers import make_corpus

BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    + "normalize:\n  include: [*i]\n"
)

HOSTILE = {
    "billion laughs under a known key": (BOMB, "anchor or alias"),
    "5,000-deep nesting": ("normalize:\n  include: " + "[" * 5000 + "]" * 5000 + "\n", "nesting deeper than"),
    "a 5,000-digit integer": ("normalize:\n  shard_rows: " + "9" * 5000 + "\n", "integer of 5000 digits"),
    "not UTF-8": (b"normalize:\n  include: ['\xff.txt']\n", "is not UTF-8"),
    "a duplicate key": ("dedup:\n  seed: 1\n  seed: 2\n", "the key 'seed' twice"),
    "a negative seed": ("dedup:\n  seed: -1\n", "dedup.seed must be between 0"),
    "splits all NaN": ("publish:\n  splits: {train: .nan, validation: .nan, test: .nan}\n", "finite number"),
    "one NaN split": ("publish:\n  splits: {train: .nan, validation: 0.5, test: 0.5}\n", "finite number"),
    "an infinite ratio": ("normalize:\n  max_mess_ratio: .inf\n", "finite number"),
    "a bytes-to-bytes codec": ("normalize:\n  legacy_encodings: [hex]\n", "'hex' is not a text encoding"),
    "an unknown encoding": ("normalize:\n  legacy_encodings: [klingon]\n", "is not a text encoding"),
    "a negative mess ratio": ("normalize:\n  max_mess_ratio: -1\n", "max_mess_ratio must be between 0 and 1"),
    "10**30 workers": ("compute:\n  workers: " + "1" + "0" * 30 + "\n", "integer of 31 digits"),
    "a million workers": ("compute:\n  workers: 1000000\n", "compute.workers must be between 0 and"),
    "a huge shard size": ("normalize:\n  shard_rows: 1000000000000\n", "normalize.shard_rows must be between"),
    "a key that is not a name": ("normalize:\n  1: 2\n", "a key that is not a name"),
    "a list at the top": ("- 1\n- 2\n", "must be a mapping"),
    "a megabyte of setting": ("publish:\n  card:\n    pretty_name: " + "x" * 200_000 + "\n", "longer than"),
    "a file over a megabyte": ("# " + "x" * (2 << 20) + "\n", "more than the 1048576 allowed"),
}


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_params_file_is_one_line_in_bounded_time_and_memory(tmp_path, cli_env, case):
    text, message = HOSTILE[case]
    make_corpus(tmp_path / "raw", 2)
    params = tmp_path / "params.yaml"
    params.write_bytes(text if isinstance(text, bytes) else text.encode())
    done = subprocess.run(
        [sys.executable, "-m", "broadsheet", "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "out")],
        cwd=tmp_path,  # ./params.yaml is read by default
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=20,
        preexec_fn=limited,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("broadsheet: error: ") and message in lines[0] and len(lines[0]) < 400
    assert not (tmp_path / "out").exists()


def test_broadsheet_params_checks_the_file_dvc_would_expand_and_prints_every_setting(tmp_path, cli_env):
    def params(text: str) -> subprocess.CompletedProcess:
        (tmp_path / "params.yaml").write_text(text)
        command = [sys.executable, "-m", "broadsheet", "params"]
        return subprocess.run(command, cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=20)

    bomb = params(BOMB)
    assert bomb.returncode == 1 and bomb.stderr.count("\n") == 1 and "anchor or alias" in bomb.stderr
    shown = params("dedup:\n  seed: 7\n")
    assert shown.returncode == 0, shown.stderr
    settings = json.loads(shown.stdout)
    assert settings["dedup"]["seed"] == 7 and settings["normalize"]["format"] == "article_txt"


def test_workers_zero_on_the_command_line_is_accepted_as_every_core(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", 3)
    (tmp_path / "params.yaml").write_text("compute:\n  workers: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "broadsheet", "normalize", "raw", "--out", "out", "--workers", "0", "--json"],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
