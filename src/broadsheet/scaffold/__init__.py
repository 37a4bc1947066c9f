"""A new corpus repository around the installed toolkit: ``broadsheet init`` (and the pipeline it writes)."""
