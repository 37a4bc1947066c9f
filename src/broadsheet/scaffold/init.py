"""`broadsheet init DIR`: a ready corpus repository around the installed toolkit.

git and DVC initialised; ``dvc.yaml`` with the three stages; ``params.yaml`` with
every setting and a comment each; ``schemas/`` (a copy of the record schemas this
version writes, to read); an empty ``corpus/raw/``; ``takedowns.csv``,
``CHANGELOG.md``, ``.gitignore``, ``.dvcignore``; a README with the workflow; and
``requirements.txt``, which pins this toolkit's version and the versions of
everything it was tested with (``constraints.txt``), and which every stage
depends on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import partial
from importlib import resources
from pathlib import Path

import yaml

from broadsheet._version import __version__
from broadsheet.core.errors import BroadsheetError, failing_as
from broadsheet.core.params import FORMAT_FILES
from broadsheet.core.project import CHANGELOG, RAW
from broadsheet.core.takedowns import COLUMNS
from broadsheet.core.takedowns import FILE as TAKEDOWNS
from broadsheet.publish.changelog import HEADER as CHANGELOG_HEADER
from broadsheet.scaffold import pipeline

DVCIGNORE = (
    "# Files DVC leaves alone (https://dvc.org/doc/user-guide/dvcignore). Nothing under corpus/raw:\n"
    "# a file hidden from DVC there would still be read by normalize.\n"
)


def init(folder: str | Path, raw_format: str = "article_txt") -> Path:
    """Make the corpus repository ``folder`` (missing or empty), its raw files of ``raw_format``; return it."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BroadsheetError(f"{folder} exists and is not an empty folder: choose a new one")
    templates = resources.files("broadsheet.scaffold") / "templates"
    with failing_as(f"cannot write {folder}"):
        (folder / RAW).mkdir(parents=True, exist_ok=True)
        (folder / RAW / ".gitkeep").write_text("")  # git keeps no empty folder; normalize lists this as skipped
        (folder / "schemas").mkdir()
        for packaged in (resources.files("broadsheet") / "schemas").iterdir():
            (folder / "schemas" / packaged.name).write_bytes(packaged.read_bytes())
        (folder / "params.yaml").write_text(_params(templates, raw_format), encoding="utf-8")
        (folder / "constraints.txt").write_bytes((templates / "constraints.txt").read_bytes())
        (folder / pipeline.PIN).write_text(
            f"# The toolkit this corpus is built with; every stage checks it and depends on this file.\n"
            f"broadsheet=={__version__}\n-c constraints.txt\n"
        )
        (folder / ".gitignore").write_bytes((templates / "gitignore").read_bytes())
        (folder / ".dvcignore").write_text(DVCIGNORE)
        (folder / TAKEDOWNS).write_text(",".join(COLUMNS) + "\n")
        (folder / CHANGELOG).write_text(CHANGELOG_HEADER)
        (folder / "dvc.yaml").write_text(yaml.safe_dump({"stages": pipeline.stages(own_code=False)}, sort_keys=False))
        (folder / "README.md").write_text(_readme(folder, templates, raw_format), encoding="utf-8")
    run = partial(_run, folder)
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    run(sys.executable, "-m", "dvc", "config", "core.analytics", "false")
    return folder


def _params(templates, raw_format: str) -> str:
    """The shipped params.yaml, its normalize.format and normalize.include set for ``raw_format``."""
    text = (templates / "params.yaml").read_text(encoding="utf-8")
    values = {"format": raw_format, "include": json.dumps(list(FORMAT_FILES[raw_format]))}
    for name, value in values.items():
        pattern, line = re.compile(rf"(?m)^  {name}: \S+ *(?= #)"), f"  {name}: {value}"
        text, found = pattern.subn(lambda old, line=line: _padded(line, old[0]), text, count=1)
        if not found:
            raise BroadsheetError(f"the packaged params.yaml has no normalize.{name} line")  # a broken build
    return text


def _padded(line: str, old: str) -> str:
    """``line`` as wide as ``old`` (so that the comments after both stay in one column), or a space wider."""
    return line.ljust(len(old)) if len(line) < len(old) else line + " "


def _readme(folder: Path, templates, raw_format: str) -> str:
    import jinja2

    template = jinja2.Template((templates / "README.md.j2").read_text(encoding="utf-8"), keep_trailing_newline=True)
    files = ", ".join(f"`{pattern}`" for pattern in FORMAT_FILES[raw_format])
    return template.render(name=folder.resolve().name, version=__version__, raw_format=raw_format, files=files)


def _run(folder: Path, *cmd: str) -> None:
    done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if done.returncode:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise BroadsheetError(f"{' '.join(cmd[-3:])} failed in {folder}: {said[-1] if said else done.returncode}")
