"""Ctrl-C ends a run with "aborted" and exit 130, and no output, even when the KeyboardInterrupt it raises is
swallowed on the way (as Numba's dispatcher was seen to do: 4 runs in 30 finished with exit 0)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from helpers import make_corpus

SWALLOWING = """
import os, signal, sys
from broadsheet import cli
from broadsheet.dedup import minhash

signatures = minhash.signatures

def swallowing(*args, **kwargs):
    try:
        os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in this thread, at once
    except KeyboardInterrupt:
        pass  # a library that clears the error it was handed
    return signatures(*args, **kwargs)

minhash.signatures = swallowing
signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal (a background job ignores SIGINT)
cli.main(sys.argv[1:])
"""


WHILE_IMPORTING = """
import importlib.abc, os, signal, sys

class Interrupting(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "click":  # the command line's first import of a library
            os.kill(os.getpid(), signal.SIGINT)  # Python's own handler: KeyboardInterrupt, here
        return None

sys.meta_path.insert(0, Interrupting())
signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal (a background job ignores SIGINT)
sys.argv[1:] = ["--version"]
from broadsheet.command import main
main()
"""


def test_ctrl_c_while_the_command_line_is_imported_is_aborted_without_a_traceback():
    done = subprocess.run([sys.executable, "-c", WHILE_IMPORTING], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "broadsheet: aborted\n")


def test_the_command_runs_through_its_entry_point():
    done = subprocess.run([sys.executable, "-m", "broadsheet", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("broadsheet"), done


@pytest.fixture
def normalized(tmp_path):
    from broadsheet import normalize

    make_corpus(tmp_path / "raw", 30)
    normalize.run([tmp_path / "raw"], tmp_path / "n", progress=False)
    return tmp_path / "n"


@pytest.mark.parametrize("swallowed", [True, False], ids=["swallowed", "raised"])
def test_ctrl_c_in_a_stage_is_aborted_even_if_a_library_swallows_it(tmp_path, normalized, swallowed):
    script = SWALLOWING if swallowed else SWALLOWING.replace("        pass  #", "        raise  #")
    command = [sys.executable, "-c", script, "dedup", str(normalized), "--out", str(tmp_path / "d"), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.strip().splitlines()[-1:]) == (130, ["broadsheet: aborted"])
    assert not (tmp_path / "d").exists()


def test_an_embedding_program_keeps_its_own_handler():
    script = textwrap.dedent(
        """
        import signal
        from broadsheet.core import interrupts
        mine = lambda signum, frame: None
        signal.signal(signal.SIGINT, mine)
        interrupts.watch()
        assert signal.getsignal(signal.SIGINT) is mine
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
