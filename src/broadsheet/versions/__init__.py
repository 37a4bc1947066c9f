"""Corpus versions: manifests of published folders and git revisions, diffs between them, releases, loading."""
