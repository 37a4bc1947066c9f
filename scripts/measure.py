"""Run a command and measure the peak resident memory of its whole process tree (Linux /proc).

ru_maxrss of a child is no good here: a child forked from a large parent
counts the parent's pages until it execs, and worker processes are not included.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path


def _tree_rss_kib(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def run(cmd: list[str], interval: float = 0.2, cwd: Path | None = None, **popen) -> tuple[int, float]:
    """(exit status, peak RSS of the process tree in MiB) of ``cmd`` (``popen``: more arguments of Popen)."""
    proc = subprocess.Popen(cmd, cwd=cwd, **popen)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = proc.wait()
    sampler.join()
    return status, peak / 1024
