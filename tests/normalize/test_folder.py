"""Reading a normalize output's shards after they were listed: whatever a shard has become since (truncated,
emptied, of another schema, gone, a FIFO), a reader gets one BroadsheetError, at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from broadsheet.core.errors import BroadsheetError
from broadsheet.normalize import folder
from helpers import normalized_corpus

HERE = os.path.dirname(os.path.abspath(__file__))


def _garbled_footer(path) -> None:
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[-8:-4], "little")
    data[-8 - size : -8] = (b"\x0f\n" * size)[:size]
    path.write_bytes(bytes(data))


CHANGES = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-100]),
    "emptied": lambda p: p.write_bytes(b""),
    "another schema": lambda p: pq.write_table(pa.table({"id": ["x"]}), p),
    "garbage": lambda p: p.write_bytes(b"PAR1" + os.urandom(5000) + b"PAR1"),
    "footer garbled": _garbled_footer,  # Arrow's message then holds a newline
    "gone": lambda p: p.unlink(),
    "a FIFO": lambda p: (p.unlink(), os.mkfifo(p)),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.fixture
def normalized(tmp_path):
    return normalized_corpus(tmp_path, 90)


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_shard_changed_after_it_was_listed_is_one_error(normalized, change):
    path = folder.shards(normalized)[0]
    assert folder.read(path, ["id"]).num_rows == pq.ParquetFile(path).metadata.num_rows
    change(path)
    with pytest.raises(BroadsheetError, match="cannot be read .*: the normalize output changed meanwhile") as error:
        folder.read(path, ["id"])
    assert "\n" not in str(error.value)
    with pytest.raises(BroadsheetError, match="cannot be read"):
        folder.records(path)


CAUSES = {"truncated": "cannot be read", "another schema": "not records of document.v", "a FIFO": "not a regular file"}


@pytest.mark.parametrize("stage", ["dedup", "publish"])
@pytest.mark.parametrize("change", CAUSES)
def test_a_stage_whose_input_changes_after_the_listing_ends_with_one_error(tmp_path, normalized, stage, change):
    """In a process of its own, so that a hang is a timeout and not a stuck test run. The line says what the
    shard has become."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path[:0] = [{HERE!r}, {os.path.dirname(HERE)!r}]
        from test_folder import CHANGES
        from broadsheet import dedup, publish
        from broadsheet.core.errors import BroadsheetError
        from broadsheet.normalize import folder
        listed = folder.shards

        def then_changed(where):
            paths = listed(where)
            CHANGES[{change!r}](paths[0])
            return paths

        folder.shards = then_changed
        try:
            {stage}.run({str(normalized)!r}, {str(tmp_path / "out")!r}, progress=False)
        except BroadsheetError as e:
            print("error:", e)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("error: ") and done.stdout.count("\n") == 1, done.stdout
    assert CAUSES[change] in done.stdout and "changed meanwhile" in done.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda index: index["shards"][0].update(file=["x"]),
        lambda index: index["shards"][0].update(file={"a": 1}),
        lambda index: index["shards"][0].update(file="data/../../outside.parquet"),
        lambda index: index["shards"].append(index["shards"][0]),  # a shard twice
        lambda index: index.update(shards=None),
    ],
)
def test_an_index_that_names_no_shard_of_the_folder_is_one_error(tmp_path, normalized, edit):
    import json
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(normalized, out)
    index = json.loads((out / folder.INDEX).read_text())
    edit(index)
    (out / folder.INDEX).write_text(json.dumps(index))
    with pytest.raises(BroadsheetError, match=folder.INDEX):
        folder.shards(out)


def test_an_index_that_is_a_fifo_is_one_error_not_a_hang(tmp_path, normalized):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(normalized, out)
    (out / folder.INDEX).unlink()
    os.mkfifo(out / folder.INDEX)  # a plain read would wait for a writer
    with pytest.raises(BroadsheetError, match="not a regular file"):
        folder.shards(out)
