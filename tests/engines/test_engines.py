"""The Ray engine gives the local engine's outputs byte for byte; a missing or unreachable Ray is one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from broadsheet import dedup, engines, normalize, publish
from broadsheet.core.errors import BroadsheetError
from broadsheet.core.params import ComputeParams, DedupParams, NormalizeParams, PublishParams
from broadsheet.dedup import stage as dedup_stage
from broadsheet.publish import stage as publish_stage
from helpers import make_corpus, settings, tree_bytes, write


def broadsheet(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "broadsheet", *args], env=env, capture_output=True, text=True)


def one_line_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(f"broadsheet: error: .*{pattern}.*", lines[-1]), result.stderr
    assert "Traceback" not in result.stderr


def test_without_ray_the_ray_engine_is_one_line(tmp_path, cli_env):
    blocker = write(tmp_path / "no-ray", "ray.py", "raise ImportError('No module named ray')\n")
    make_corpus(tmp_path / "src", 3)
    env = {**cli_env, "PYTHONPATH": str(blocker.parent)}
    one_line_error(
        broadsheet(env, "normalize", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--engine", "ray"),
        re.escape("pip install 'broadsheet[ray]'"),
    )


def test_an_unknown_engine_is_a_usage_error(tmp_path, cli_env):
    make_corpus(tmp_path / "src", 1)
    result = broadsheet(
        cli_env, "normalize", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--engine", "spark"
    )
    assert result.returncode == 2 and "spark" in result.stderr and "Traceback" not in result.stderr
    write(tmp_path, "params.yaml", "compute:\n  engine: spark\n")
    result = broadsheet(
        cli_env,
        "normalize",
        str(tmp_path / "src"),
        "--out",
        str(tmp_path / "out"),
        "--params",
        str(tmp_path / "params.yaml"),
    )
    one_line_error(result, "compute.engine must be one of local, ray")


@pytest.fixture
def many_messy(messy):
    """The messy folder plus two thousand articles, some of them in a gzip tar shard."""
    import tarfile

    make_corpus(messy / "bulk", 2000)
    shard = messy / "shard.tar.gz"
    with tarfile.open(shard, "w:gz") as tar:
        for path in sorted((messy / "bulk").glob("00000*.txt")):
            tar.add(path, arcname=f"packed/{path.name.replace('_', '-', 1)}")
    return messy


@pytest.mark.slow
def test_ray_engine_gives_the_local_outputs_byte_for_byte(tmp_path, many_messy, cli_env, monkeypatch):
    params = ["--params", str(write(tmp_path, "params.yaml", "normalize:\n  shard_rows: 100\n"))]
    local, ray = tmp_path / "local", tmp_path / "ray"
    result = broadsheet(cli_env, "normalize", str(many_messy), "--out", str(local), "--workers", "2", "-q", *params)
    assert result.returncode == 0, result.stderr
    env = {k: v for k, v in cli_env.items() if k != "RAY_ADDRESS"}  # a local Ray with 2 CPUs
    result = broadsheet(
        env, "normalize", str(many_messy), "--out", str(ray), "--engine", "ray", "--workers", "2", "-q", *params
    )
    assert result.returncode == 0, result.stderr
    assert tree_bytes(ray) == tree_bytes(local)
    assert len(list((local / "data").iterdir())) > 10

    dedup.run(local, tmp_path / "dedup-here", settings(DedupParams(), workers=2), progress=False)
    monkeypatch.setattr(dedup_stage, "INLINE_ROWS", 0)  # the workers hash every text, even of a small corpus
    dedup.run(local, tmp_path / "dedup-local", settings(DedupParams(), workers=2), progress=False)
    dedup.run(local, tmp_path / "dedup-ray", settings(DedupParams(), workers=2, engine="ray"), progress=False)
    assert tree_bytes(tmp_path / "dedup-ray") == tree_bytes(tmp_path / "dedup-local")
    assert tree_bytes(tmp_path / "dedup-here") == tree_bytes(tmp_path / "dedup-local")

    monkeypatch.setattr(publish_stage, "INLINE_ROWS", 0)  # the workers write every shard, even of a small corpus
    shards = PublishParams(shard_rows=50)
    inputs = publish_stage.Inputs(local, tmp_path / "dedup-local")
    publish.run(inputs, tmp_path / "publish-local", settings(shards, workers=2), progress=False)
    publish.run(inputs, tmp_path / "publish-ray", settings(shards, workers=2, engine="ray"), progress=False)
    assert tree_bytes(tmp_path / "publish-ray") == tree_bytes(tmp_path / "publish-local")


@pytest.mark.slow
def test_ray_address_joins_a_running_cluster(tmp_path, cli_env):
    make_corpus(tmp_path / "src", 300)
    normalize.run(
        [tmp_path / "src"], tmp_path / "local", settings(NormalizeParams(shard_rows=20), workers=1), progress=False
    )
    ray_bin = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    env = {**cli_env, "RAY_AUTH_MODE": "token"}
    env.pop("RAY_ADDRESS", None)
    started = subprocess.run(
        [
            *ray_bin,
            "start",
            "--head",
            "--num-cpus",
            "2",
            "--port",
            "0",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    try:
        assert started.returncode == 0, started.stderr
        address = re.search(r"ray start --address='([^']+)'", started.stdout + started.stderr)[1]
        write(tmp_path, "params.yaml", "normalize:\n  shard_rows: 20\ncompute:\n  engine: ray\n")
        result = broadsheet(
            {**env, "RAY_ADDRESS": address},
            "normalize",
            str(tmp_path / "src"),
            "--out",
            str(tmp_path / "ray"),
            "--params",
            str(tmp_path / "params.yaml"),
            "-q",
        )
        assert result.returncode == 0, result.stderr
        assert tree_bytes(tmp_path / "ray") == tree_bytes(tmp_path / "local")
        status = subprocess.run([*ray_bin, "status", "--address", address], env=env, capture_output=True, text=True)
        assert status.returncode == 0, "the cluster outlives the command that joined it"
    finally:
        subprocess.run([*ray_bin, "stop", "--force"], env=env, capture_output=True)


def test_an_unreachable_ray_address_is_one_line(tmp_path, cli_env):
    pytest.importorskip("ray")
    make_corpus(tmp_path / "src", 2)
    env = {**cli_env, "RAY_ADDRESS": "127.0.0.1:1"}
    result = broadsheet(env, "normalize", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--engine", "ray")
    one_line_error(result, re.escape("cannot join Ray at RAY_ADDRESS=127.0.0.1:1"))
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ray_results_come_in_input_order_across_windows_and_errors_are_raised(monkeypatch):
    import math

    pytest.importorskip("ray")
    from broadsheet.core.params import ComputeParams
    from broadsheet.engines import ordered_map, ray_data

    monkeypatch.setattr(ray_data, "TASKS_PER_CPU", 3)  # windows of 6 items: 50 items take 9 datasets
    on_ray = ComputeParams(engine="ray", workers=2)
    assert list(ordered_map(math.factorial, range(50), on_ray)) == [math.factorial(n) for n in range(50)]
    with pytest.raises(ValueError, match="not defined for negative values"):
        list(ordered_map(math.factorial, [3, 2, -1, 4], on_ray))


def test_a_worker_that_dies_is_one_line(tmp_path):
    """A worker killed (by the OOM killer, say) is an error the command line shows as one line."""
    with pytest.raises(BroadsheetError, match="a worker process ended abruptly"):
        list(engines.ordered_map(os._exit, [1, 1], ComputeParams(workers=2)))


def test_threads_run_in_this_process_in_input_order_and_raise_errors():
    import math
    import threading

    def where(n: int) -> tuple[int, int, int]:
        return n, os.getpid(), threading.get_ident()

    with engines.pool(ComputeParams(workers=2), threads=True) as ordered:
        found = list(ordered(where, range(100)))  # 100 items: many windows of 8
        assert [n for n, _, _ in found] == list(range(100))
        assert {pid for _, pid, _ in found} == {os.getpid()}
        assert threading.get_ident() not in {thread for _, _, thread in found}
        with pytest.raises(ValueError, match="not defined for negative values"):
            list(ordered(math.factorial, [3, 2, -1, 4]))
