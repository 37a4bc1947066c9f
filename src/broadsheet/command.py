"""The ``broadsheet`` command's entry point.

Ctrl-C while Python is still importing the command line comes before
``cli.main`` puts its handler in place: it ends the command with "aborted"
and exit 130, as a later one does, not with Python's traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from broadsheet.cli import main as command

        command()
    except KeyboardInterrupt:  # only before cli.main's handler: after it, a Ctrl-C is its SystemExit(130)
        sys.stderr.write("broadsheet: aborted\n")
        sys.exit(130)
