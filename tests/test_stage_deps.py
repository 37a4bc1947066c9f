"""Honest dependencies: each stage's DVC deps are the code its command loads, and an edit re-runs what loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from broadsheet.core import provenance, schema
from helpers import REPO, article, make_project, repro, sh, write

STAGES = ("normalize", "dedup", "publish")
DATA_DEPS = {"corpus/raw", "corpus/normalized", "corpus/dedup", "CHANGELOG.md", "takedowns.csv"}

# Imported by every Python process the test starts (PYTHONPATH): appends every file under the
# watched folders that the process opens (sources, bytecode, schemas, templates) to a log; but not
# the files core.provenance reads to hash a stage's code, which would make every dep look used.
RECORDER = textwrap.dedent(
    """
    import os, sys

    _log = os.environ["BROADSHEET_OPENED_LOG"]
    _watched = tuple(os.environ["BROADSHEET_WATCHED"].split(os.pathsep))
    _busy = [False]

    def _record(event, args):
        if event != "open" or _busy[0] or not isinstance(args[0], (str, bytes)):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if not path.startswith(_watched):
            return
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.endswith(os.path.join("core", "provenance.py")):
                return
            frame = frame.f_back
        _busy[0] = True
        try:
            fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, (path + "\\n").encode("utf-8", "surrogateescape"))
            os.close(fd)
        finally:
            _busy[0] = False

    sys.addaudithook(_record)
    """
)


def dvc_stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def declared(stage: str) -> set[str]:
    """The deps ``core.provenance.STAGES`` gives ``stage``, as paths in this repository."""
    deps = provenance.STAGES[stage]
    schemas = {f"schemas/{schema.schema_file(name).name}" for name in deps.schemas}
    return {f"src/broadsheet/{name}" for name in deps.code} | schemas


def source_of(path: str) -> str:
    """The repository path of an opened file: a bytecode file's source, a symlinked schema's target."""
    real = Path(os.path.realpath(path))
    if real.parent.name == "__pycache__":
        real = real.parent.parent / (real.name.split(".")[0] + ".py")
    return real.relative_to(REPO).as_posix()


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_deps_and_params_are_the_ones_the_code_declares(stage):
    spec = dvc_stages()[stage]
    assert set(spec["deps"]) - DATA_DEPS == declared(stage)
    assert spec["params"] == list(provenance.STAGES[stage].params)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, set[str]]:
    """Stage -> the repository files its dvc.yaml command loaded, in its main process and its two workers."""
    root = tmp_path_factory.mktemp("deps")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(RECORDER)
    for name in ("params.yaml", "CHANGELOG.md", "takedowns.csv"):
        (root / name).write_bytes((REPO / name).read_bytes())
    for n in range(30):
        write(root / "corpus" / "raw", f"{n:03d}_{n:016x}.txt", article(n))
    result = {}
    for stage in STAGES:
        log = root / f"{stage}.log"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "site"), os.environ.get("PYTHONPATH")])),
            "BROADSHEET_OPENED_LOG": str(log),
            "BROADSHEET_WATCHED": os.pathsep.join([str(REPO / "src"), str(REPO / "schemas")]),
        }
        cmd = dvc_stages()[stage]["cmd"] + (" --workers 2" if stage != "publish" else "")
        done = subprocess.run(cmd, shell=True, cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        result[stage] = {source_of(line) for line in log.read_text().splitlines()}
    return result


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_every_file_a_stage_loads_is_among_its_deps(loaded, stage):
    deps = set(dvc_stages()[stage]["deps"])
    uncovered = sorted(f for f in loaded[stage] if not any(f == d or f.startswith(d + "/") for d in deps))
    assert uncovered == [], f"{stage} loads files its dvc.yaml deps do not name"


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_depends_on_no_code_it_does_not_load(loaded, stage):
    code = set(dvc_stages()[stage]["deps"]) - DATA_DEPS
    unused = sorted(d for d in code if not any(f == d or f.startswith(d + "/") for f in loaded[stage]))
    assert unused == [], f"{stage} depends on code it never loads (a later stage's?)"


def changed_stages(root: Path, env: dict) -> set[str]:
    return set(json.loads(sh(root, env, "dvc", "status", "--json", stdout_only=True) or "{}"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "edited, stages",
    [
        ("src/broadsheet/publish/templates/card.md.j2", {"publish"}),
        ("src/broadsheet/dedup/minhash.py", {"dedup", "publish"}),
        ("src/broadsheet/text/clean.py", {"normalize"}),
    ],
)
def test_an_edit_makes_dvc_rerun_exactly_the_stages_that_load_it(tmp_path, env, edited, stages):
    root = make_project(tmp_path / "p", env, extra_docs=5)
    repro(root, env)
    assert changed_stages(root, env) == set()
    with open(root / edited, "a", encoding="utf-8") as f:
        f.write("\n")
    assert changed_stages(root, env) == stages


def test_the_reuse_key_follows_normalize_code_only(monkeypatch):
    from broadsheet.core.params import FilterParams, NormalizeParams
    from broadsheet.normalize import reuse

    before = reuse.fingerprint(NormalizeParams(), FilterParams())
    files = dict(provenance.code_files("normalize"))
    assert "publish/card.py" not in files and "dedup/minhash.py" not in files
    assert "text/clean.py" in files and "schemas/document.v2.json" in files
    original = provenance.code_files
    monkeypatch.setattr(
        provenance,
        "code_files",
        lambda stage: [(p, d + b"#" if p == "text/clean.py" else d) for p, d in original(stage)],
    )
    assert reuse.fingerprint(NormalizeParams(), FilterParams()) != before


# Imported by a stage's code but unable to change what its reuse keys stand for, and why.
NOT_IN_RECORDS = {
    "click": "the command line",
    "yaml": "reads params.yaml, whose values are in the fingerprint",
    "numpy": "indexes rows (normalize); in dedup's fingerprint",
    "zstandard": "decompresses: its output is the compressed bytes' exactly",
    "ray": "an engine: outputs are the same on every engine",
    "tqdm": "progress bars",
    "datasets": "its Features, read by publish only (core.schema)",
}
DISTRIBUTIONS = {"charset_normalizer": "charset-normalizer"}


def _third_party_imports(stage: str) -> set[str]:
    import ast

    found = set()
    for path, data in provenance.code_files(stage):
        if path.endswith(".py"):
            for node in ast.walk(ast.parse(data)):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in ("broadsheet", "__future__")}


@pytest.mark.parametrize("stage", ["normalize", "dedup"])
def test_every_library_that_can_change_an_output_is_in_its_reuse_fingerprint(stage):
    from broadsheet.dedup import reuse as dedup_reuse
    from broadsheet.normalize import reuse as normalize_reuse

    libraries = {"normalize": normalize_reuse.LIBRARIES, "dedup": dedup_reuse.LIBRARIES}[stage]
    imported = {DISTRIBUTIONS.get(name, name) for name in _third_party_imports(stage)}
    assert imported - set(NOT_IN_RECORDS) <= set(libraries)
