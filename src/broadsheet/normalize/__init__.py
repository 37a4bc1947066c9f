"""The normalize stage: raw files -> normalised Parquet shards, a rejects table and metrics.

``stage.run`` is the stage; ``folder`` owns the format of what it writes and is
how later stages read it (importing this package loads nothing else).
"""


def run(*args, **kwargs) -> dict:
    """``broadsheet.normalize.run(sources, out, params)``: see ``broadsheet.normalize.stage.run``."""
    from broadsheet.normalize.stage import run

    return run(*args, **kwargs)
