"""broadsheet: raw news articles -> a versioned, shareable Hugging Face corpus."""

__version__ = "0.1.0"

from broadsheet.errors import BroadsheetError  # noqa: E402
from broadsheet.ingest import run as normalize  # noqa: E402
from broadsheet.dataset import run as publish  # noqa: E402

__all__ = ["BroadsheetError", "__version__", "normalize", "publish"]
