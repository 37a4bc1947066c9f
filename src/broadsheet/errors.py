"""The one exception the CLI turns into a one-line message and a non-zero exit."""


class BroadsheetError(Exception):
    """A problem the user can fix: bad input, bad params, a schema mismatch."""
