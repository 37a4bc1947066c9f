"""The dedup stage: exact and MinHash near-duplicate clusters, written as decisions, not as a copy of the corpus.

``stage.run`` is the stage; ``folder`` owns the format of what it writes and is
how later stages read it (importing this package loads nothing else).
"""


def run(*args, **kwargs) -> dict:
    """``broadsheet.dedup.run(normalized, out, params)``: see ``broadsheet.dedup.stage.run``."""
    from broadsheet.dedup.stage import run

    return run(*args, **kwargs)
