"""The ``broadsheet`` command: thin wrappers over the Python API.

Every failure the user can fix ends as one line on stderr and exit status 1
(2 for a bad command line), never a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import click

from broadsheet import __version__
from broadsheet.core import interrupts
from broadsheet.core.display import counted, printable
from broadsheet.core.errors import BroadsheetError, failing_as, reason
from broadsheet.core.files import check_apart, dumps_json, guard_written_folder, write_json
from broadsheet.core.params import ENGINES, FORMATS, Params, max_workers
from broadsheet.core.params import load as load_params
from broadsheet.core.project import DATASET, PARAMS

# Each command imports the package of its stage inside its body, so that a stage's
# command loads exactly the code its dvc.yaml deps name (tests/test_stage_deps.py).


def main(argv: list[str] | None = None) -> None:
    interrupts.watch()
    try:
        _main(argv)
    except SystemExit as e:
        if e.code == 130 or not interrupts.received():
            raise
    except BaseException:
        if not interrupts.received():
            raise
    if interrupts.received():  # whatever a library made of the KeyboardInterrupt: an error, or nothing
        _aborted()


def _aborted() -> None:
    click.echo("broadsheet: aborted", err=True)
    sys.exit(130)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="broadsheet", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        _aborted()
    except click.exceptions.NoArgsIsHelpError as e:  # `broadsheet` alone: the help, as click shows it
        click.echo(e.ctx.get_help())
        sys.exit(0)
    except click.ClickException as e:
        click.echo(f"broadsheet: error: {printable(e.format_message())}", err=True)
        sys.exit(2)
    except BroadsheetError as e:
        click.echo(f"broadsheet: error: {printable(str(e))}", err=True)
        sys.exit(1)
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        click.echo(printable(f"broadsheet: error:{where} {reason(e)}"), err=True)
        sys.exit(1)
    except MemoryError:
        click.echo("broadsheet: error: out of memory (a memory limit, or an input far larger than expected)", err=True)
        sys.exit(1)


params_option = click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The settings file (default: ./params.yaml if there is one, else the built-in defaults).",
)
out_option = click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (replaced whole, if broadsheet wrote it).",
)
force_option = click.option(
    "--force", is_flag=True, help="Replace --out even if it holds files this command did not write."
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=0, max=10**6),
    default=None,
    help="Worker processes; 0: every core (default: compute.workers in params).",
)
engine_option = click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="local processes or Ray (default: compute.engine; Ray joins RAY_ADDRESS, else starts locally).",
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress, no summary line.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")


def _check_pin(context, parameter, path: str | None) -> None:
    """--pin FILE: refuse to run unless FILE (a requirements.txt) pins this very version of broadsheet."""
    if path is None:
        return
    with failing_as(f"cannot read {path}"):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    pins = [line.split("==", 1)[1].strip() for line in lines if line.replace(" ", "").startswith("broadsheet==")]
    if pins != [__version__]:
        pinned = pins[0] if pins else "no version"
        # DVC removes a stage's outputs before it runs the command: say how to have them back.
        stage = os.environ.get("DVC_STAGE")
        restore = (
            f"; git checkout metrics && dvc checkout {stage} restore what DVC removed before the run" if stage else ""
        )
        raise BroadsheetError(
            f"{path} pins broadsheet {pinned}, but broadsheet {__version__} is installed: install that one, "
            f"or (to upgrade the corpus's toolkit) write broadsheet=={__version__} there{restore}"
        )


pin_option = click.option(
    "--pin",
    type=click.Path(dir_okay=False),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_check_pin,
    help="A requirements.txt: run only if it pins the installed broadsheet's version.",
)
metrics_option = click.option(
    "--metrics",
    "metrics_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the metrics JSON here (a git-tracked file for `dvc metrics`).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="broadsheet")
def cli() -> None:
    """Turn raw news articles into a versioned Hugging Face corpus."""


@cli.command()
@click.argument("src", nargs=-1, required=True, type=click.Path(file_okay=True, dir_okay=True))
@out_option
@force_option
@workers_option
@engine_option
@click.option("--fresh", is_flag=True, help="Normalise every shard again instead of reusing unchanged ones from OUT.")
@click.option(
    "--takedowns",
    "takedowns_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="takedowns.csv: documents to leave out (default: ./takedowns.csv if there is one).",
)
@params_option
@metrics_option
@quiet_option
@json_option
@pin_option
def normalize(src, out, workers, engine, fresh, takedowns_path, force, params_path, metrics_path, quiet, as_json):
    """Parse and normalise every file under SRC (folders; tar shards inside them are read too)."""
    from broadsheet.core import takedowns
    from broadsheet.normalize.stage import run, summary

    started = time.monotonic()
    params = _params(params_path, workers, engine)
    if takedowns_path and not Path(takedowns_path).exists():
        raise BroadsheetError(f"takedowns file {takedowns_path} does not exist")
    taken = takedowns.read(takedowns_path or takedowns.FILE)  # none when there is no ./takedowns.csv
    metrics = run(list(src), out, params, progress=not quiet, fresh=fresh, force=force, takedowns=taken)
    _report(summary(metrics), metrics, metrics_path, quiet, as_json, started)


@cli.command(name="dedup")
@click.argument("normalized", type=click.Path(file_okay=False))
@out_option
@force_option
@workers_option
@engine_option
@params_option
@metrics_option
@quiet_option
@json_option
@click.option("--fresh", is_flag=True, help="Compute every band key and similarity again instead of reusing OUT's.")
@pin_option
def dedup_command(normalized, out, workers, engine, fresh, force, params_path, metrics_path, quiet, as_json):
    """Find exact and near-duplicate clusters; write the decisions (duplicates.parquet), not a copy."""
    from broadsheet.dedup.stage import run, summary

    started = time.monotonic()
    params = _params(params_path, workers, engine)
    metrics = run(normalized, out, params, progress=not quiet, fresh=fresh, force=force)
    _report(summary(metrics), metrics, metrics_path, quiet, as_json, started)


def _params(path: str | None, workers: int | None = None, engine: str | None = None) -> Params:
    """The settings of ``path`` (else ./params.yaml, else the defaults), the command line's engine and workers
    over ``compute``'s."""
    params = load_params(_params_file(path))
    compute = dataclasses.replace(
        params.compute,
        workers=params.compute.workers if workers is None else workers,
        engine=engine or params.compute.engine,
    )
    if workers is not None and workers > max_workers():
        raise BroadsheetError(f"--workers must be at most {max_workers()} on this machine, got {workers}")
    compute.validate()
    return dataclasses.replace(params, compute=compute)


@cli.command(name="publish")
@click.argument("normalized", type=click.Path(file_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Dataset folder (replaced whole, if broadsheet wrote it).",
)
@force_option
@click.option(
    "--duplicates", type=click.Path(file_okay=False), default=None, help="A dedup output: leave out duplicates."
)
@click.option(
    "--changelog", type=click.Path(dir_okay=False), default=None, help="CHANGELOG.md shown as the card's Versions."
)
@click.option(
    "--plots", "plots_dir", type=click.Path(file_okay=False), default=None, help="Also copy the plot data here."
)
@click.option("--fresh", is_flag=True, help="Encode every shard again instead of reusing unchanged ones from OUT.")
@workers_option
@engine_option
@params_option
@metrics_option
@quiet_option
@json_option
@pin_option
def publish_command(
    normalized,
    out,
    force,
    duplicates,
    changelog,
    plots_dir,
    fresh,
    workers,
    engine,
    params_path,
    metrics_path,
    quiet,
    as_json,
):
    """Write the save_to_disk layout of a train/validation/test DatasetDict, its manifest, card and Croissant file."""
    from broadsheet.publish import layout
    from broadsheet.publish.stage import Inputs, run, summary

    started = time.monotonic()
    inputs = Inputs(normalized, duplicates, changelog)
    if plots_dir:
        check_apart(plots_dir, [normalized, out, *([duplicates] if duplicates else [])])
    metrics = run(inputs, out, _params(params_path, workers, engine), progress=not quiet, fresh=fresh, force=force)
    if plots_dir:
        _copy_folder(Path(out) / layout.PLOTS, plots_dir)
    _report(summary(metrics), metrics, metrics_path, quiet, as_json, started)


@cli.command(name="validate")
@click.argument("folder", type=click.Path(file_okay=False))
def validate_command(folder):
    """Check a published folder: shards vs schemas, manifest vs shards, Croissant checksums, card YAML."""
    from broadsheet.publish.validate import validate

    problems = validate(folder)
    for problem in problems:
        click.echo(printable(problem), err=True)
    if problems:
        raise BroadsheetError(f"{folder}: {len(problems)} problem(s)")
    click.echo(printable(f"{folder}: ok"))


@cli.command(name="card")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--changelog", type=click.Path(dir_okay=False), default=None, help="CHANGELOG.md for the Versions section."
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write here (default: stdout).")
@click.option("--force", is_flag=True, help="Write --output even inside a folder a broadsheet stage wrote.")
@params_option
def card_command(folder, changelog, output, params_path, force):
    """Render the dataset card of a published folder again, e.g. after editing the card's text in params.yaml."""
    from broadsheet.publish.stage import render_card

    text = render_card(folder, load_params(_params_file(params_path)).publish, changelog)
    if output:
        guard_written_folder(output, force)
        with failing_as(f"cannot write {output}"):
            Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@cli.command(name="params")
@params_option
def params_command(params_path):
    """Check the settings (./params.yaml, or --params) and print them with every default filled in, as JSON.

    `dvc repro` expands params.yaml itself before any stage runs, so a file DVC chokes on (aliases, a huge
    file) hangs it there: this says what is wrong in one line, at once."""
    click.echo(dumps_json(dataclasses.asdict(load_params(_params_file(params_path))), sort_keys=False), nl=False)


@cli.command(name="init")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--format",
    "raw_format",
    type=click.Choice(FORMATS),
    default="article_txt",
    show_default=True,
    help="How the raw files hold documents: one article per .txt file, or records in JSON Lines, CSV or Parquet "
    "files (normalize.format and normalize.include in params.yaml; the field names are in normalize.fields).",
)
def init_command(folder, raw_format):
    """Make FOLDER a new corpus repository around this toolkit: git and DVC, dvc.yaml with the three stages,
    params.yaml, schemas/, corpus/raw/, takedowns.csv, a README, and requirements.txt pinning this version."""
    from broadsheet.scaffold.init import init

    init(folder, raw_format)
    click.echo(printable(f"made the corpus repository {folder}: put raw files in {folder}/corpus/raw, then dvc repro"))


@cli.command(name="takedown")
@click.argument("ids", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (one line): it is published with the takedown.")
@click.option("--date", default=None, help="YYYY-MM-DD (default: today).")
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None, help="Default: ./takedowns.csv.")
def takedown_command(ids, reason, date, path):
    """Take documents down: add IDS to takedowns.csv; from the next `dvc repro` their text is in no output."""
    import datetime

    from broadsheet.core import takedowns

    date = date or datetime.date.today().isoformat()
    new = [takedowns.check(doc_id, reason, date, where="takedown") for doc_id in ids]
    takedowns.append(path or takedowns.FILE, new)
    click.echo(printable(f"{counted(len(new), 'document')} taken down in {path or takedowns.FILE}: run dvc repro"))


repo_option = click.option(
    "--repo",
    default=".",
    show_default=True,
    help="The corpus repository: a local clone (or any folder in one), or a git URL (diff only).",
)
dataset_option = click.option("--dataset", default=DATASET, show_default=True, help="Published folder in the repo.")


@cli.command(name="diff")
@click.argument("a")
@click.argument("b")
@repo_option
@dataset_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for scripts.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Documents listed per kind.")
def diff_command(a, b, repo, dataset, as_json, limit):
    """Documents added, removed and changed from version A to B (git revisions or published folders)."""
    from broadsheet.versions import diff, manifests

    report = diff.compare(manifests.open_version(a, repo, dataset), manifests.open_version(b, repo, dataset))
    click.echo(dumps_json(report) if as_json else diff.format_text(report, limit), nl=False)


@cli.command(name="explain")
@click.argument("doc_id", required=False)
@click.option("--text", "text_file", type=click.Path(dir_okay=False), help="Was this raw file's text in --rev?")
@click.option("--rev", default=None, help="The version (a git revision; default: the workspace).")
@repo_option
@dataset_option
@click.option("--json", "as_json", is_flag=True, help="Print the story as JSON, for scripts.")
def explain_command(doc_id, text_file, rev, repo, dataset, as_json):
    """One document's story: its raw file, what became of it, and every release where it changed."""
    from broadsheet.versions import explain

    if (doc_id is None) == (text_file is None):
        raise click.UsageError("give a document ID, or --text FILE")
    if text_file is not None:
        found = explain.find_text(text_file, repo, rev, dataset)
        ids = ", ".join(found["ids"])
        line = f"in {found['rev']}, as {ids}" if found["ids"] else f"not in {found['rev']}"
        click.echo(dumps_json(found) if as_json else printable(f"{text_file}: {line} {found['detail']}".rstrip()))
        return
    story = explain.explain(doc_id, repo, rev, dataset)
    click.echo(dumps_json(story) if as_json else "\n".join(map(printable, explain.format_text(story).splitlines())))


@cli.command(name="release")
@click.argument("version")
@repo_option
@click.option("--no-push", is_flag=True, help="Commit and tag, but do not `dvc push`.")
@click.option("--allow-empty", is_flag=True, help="Release even when nothing changed since the last release.")
def release_command(version, repo, no_push, allow_empty):
    """Write the CHANGELOG, re-run the pipeline, commit, tag VERSION and push the data.

    REPO (--repo) is a local clone, or any folder inside one."""
    from broadsheet.versions.release import release

    result = release(version, repo, push=not no_push, allow_empty=allow_empty)
    if not result["documents"]:
        click.echo(f"broadsheet: warning: {printable(version)} holds no document", err=True)
    previous = f" (changes since {result['previous']} in CHANGELOG.md)" if result["previous"] else ""
    pushed = " and pushed the data" if result["pushed"] else ""
    click.echo(printable(f"released {version}: committed, tagged{pushed}{previous}"))


def _copy_folder(source: Path, target: str) -> None:
    import shutil

    with failing_as(f"cannot write {target}"):
        Path(target).mkdir(parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            shutil.copyfile(path, Path(target) / path.name)


def _params_file(path: str | None) -> str | None:
    """The settings file to read: the one given, else ./params.yaml if there is one (as DVC users expect)."""
    if path is None and Path(PARAMS).is_file():
        return PARAMS
    return path


def _report(summary: str, metrics: dict, metrics_path: str | None, quiet: bool, as_json: bool, started: float) -> None:
    """Write the metrics file; print the one-line summary (stderr) and, with --json, the metrics (stdout)."""
    if metrics_path:
        with failing_as(f"cannot write metrics file {metrics_path}"):
            Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
            write_json(metrics_path, metrics)
    if not quiet:
        click.echo(printable(f"{summary}; {time.monotonic() - started:.1f} s"), err=True)
    if as_json:
        click.echo(dumps_json(metrics), nl=False)
