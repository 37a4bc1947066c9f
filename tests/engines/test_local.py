"""The local engine: worker processes that never outlive the command that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import make_corpus


def session_processes(session: int) -> list[int]:
    """The live (not zombie) processes of a session."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(name))
    return found


@pytest.mark.slow
def test_kill_9_of_normalize_leaves_no_process_behind(tmp_path, cli_env):
    make_corpus(tmp_path / "raw", 4000)
    run = subprocess.Popen(
        [sys.executable, "-m", "broadsheet", "normalize", str(tmp_path / "raw"), "--out", str(tmp_path / "out")]
        + ["--workers", "2", "-q"],
        env=cli_env,
        start_new_session=True,  # its own session: every process it starts is found by the session id
    )
    deadline = time.monotonic() + 60
    while len(session_processes(run.pid)) < 4 and time.monotonic() < deadline:  # itself, forkserver, 2 workers
        time.sleep(0.1)
    assert len(session_processes(run.pid)) >= 4, "the workers never started"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 20
    while session_processes(run.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_processes(run.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "processes outlived a killed normalize"


_ORPHAN = """
import sys
from broadsheet.engines import local
__import__(local.FORKSERVER_PRELOAD)
import multiprocessing.synchronize as synchronize
if sys.argv[1] == "pool gone":  # what a worker forked as its pool is torn down meets
    synchronize.Lock.__new__(synchronize.Lock).__setstate__((0, 1, 1, "/broadsheet-test-no-such-semaphore"))
raise FileNotFoundError("another error")
"""


@pytest.mark.parametrize("case", ["pool gone", "another error"])
def test_a_worker_forked_as_its_pool_ends_is_quiet_and_others_are_not(case):
    done = subprocess.run([sys.executable, "-c", _ORPHAN, case], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert ("Traceback" in done.stderr) == (case == "another error")
