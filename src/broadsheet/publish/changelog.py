"""Reading the corpus's CHANGELOG.md (``broadsheet release`` writes it): the card's Versions and the latest release."""

from __future__ import annotations

from pathlib import Path

from broadsheet.core.errors import failing_as

HEADER = "# Changelog\n\nReleases of this corpus, newest first. Written by `broadsheet release`.\n"


def read(path: str | Path | None) -> str:
    """The changelog's text; empty without a path."""
    if path is None:
        return ""
    with failing_as(f"cannot read changelog {path}"):
        return Path(path).read_text(encoding="utf-8")


def latest_release(changelog: str) -> str:
    """The newest version named in the changelog ('## v2' -> 'v2'); 'unreleased' before the first."""
    for line in changelog.splitlines():
        if line.startswith("## "):
            return line[3:].strip()
    return "unreleased"
