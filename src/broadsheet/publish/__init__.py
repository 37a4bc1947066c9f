"""The publish stage: stable splits, the save_to_disk and Hub Parquet layouts, the card, Croissant, the manifest.

``stage.run`` is the stage; ``layout`` owns the format of the folder it writes
(importing this package loads nothing else).
"""


def run(*args, **kwargs) -> dict:
    """``broadsheet.publish.run(inputs, out, params)``: see ``broadsheet.publish.stage.run``."""
    from broadsheet.publish.stage import run

    return run(*args, **kwargs)
