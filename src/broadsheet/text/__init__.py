"""Pure functions from one document's bytes and settings to a record or a reason: decode, clean, parse, lang, quality.

``document.normalize_document`` chains them; nothing here reads files or starts processes.
"""
