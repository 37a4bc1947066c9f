"""broadsheet: raw news articles -> a versioned, shareable Hugging Face corpus.

The stages are sub-packages with one ``run`` each (``broadsheet.normalize.run``,
``broadsheet.dedup.run``, ``broadsheet.publish.run``); ``broadsheet.load`` opens
a corpus version. Importing ``broadsheet`` loads none of them.
"""

from broadsheet._version import __version__
from broadsheet.core.errors import BroadsheetError

__all__ = ["BroadsheetError", "__version__", "dedup", "load", "normalize", "publish"]
_STAGES = ("normalize", "dedup", "publish")


def __getattr__(name: str):
    """``broadsheet.normalize`` and the other stage packages, imported when first used."""
    if name in _STAGES:
        import importlib

        return importlib.import_module(f"broadsheet.{name}")
    raise AttributeError(f"module 'broadsheet' has no attribute {name!r}")


def load(repo: str = ".", rev: str | None = None, **kwargs):
    """The ``DatasetDict`` of corpus version ``rev`` of ``repo``: see ``broadsheet.versions.load.load``."""
    from broadsheet.versions.load import load

    return load(repo, rev, **kwargs)
