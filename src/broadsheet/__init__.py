"""broadsheet: raw news articles -> a versioned, shareable Hugging Face corpus."""

from broadsheet._version import __version__
from broadsheet.errors import BroadsheetError
from broadsheet.ingest import run as normalize
from broadsheet.dataset import run as publish
from broadsheet.versions import load

__all__ = ["BroadsheetError", "__version__", "load", "normalize", "publish"]
