"""The three stages as ``dvc.yaml`` holds them: one home for their commands, inputs and outputs.

``broadsheet init`` writes them for a corpus repository, where the toolkit is an installed package
pinned by ``requirements.txt``; this repository's own ``dvc.yaml`` holds the same stages with the
toolkit's code and schemas as deps instead (a test holds the two equal).
"""

from __future__ import annotations

from broadsheet.core import provenance, schema
from broadsheet.core.project import CHANGELOG, DATASET, DEDUP, NORMALIZED, PARAMS, RAW
from broadsheet.core.takedowns import FILE as TAKEDOWNS

PIN = "requirements.txt"
PLOTS = [
    {
        "metrics/plots/lengths.csv": {
            "cache": False,
            "x": "documents",
            "y": "words",
            "title": "Documents by length in words",
            "template": "bar_horizontal",
        }
    },
    {
        "metrics/plots/languages.csv": {
            "cache": False,
            "x": "documents",
            "y": "language",
            "title": "Documents by language",
            "template": "bar_horizontal",
        }
    },
]
_STAGES = {
    "normalize": {
        "cmd": f"broadsheet normalize {RAW} --out {NORMALIZED} --params {PARAMS} --takedowns {TAKEDOWNS}"
        " --metrics metrics/normalize.json",
        "inputs": [RAW, TAKEDOWNS],
        "out": {NORMALIZED: {"persist": True}},  # kept during repro: unchanged shards are reused from it
        "metrics": "metrics/normalize.json",
    },
    "dedup": {
        "cmd": f"broadsheet dedup {NORMALIZED} --out {DEDUP} --params {PARAMS} --metrics metrics/dedup.json",
        "inputs": [NORMALIZED],
        "out": {DEDUP: {"persist": True}},  # kept during repro: band keys and similarities are reused from it
        "metrics": "metrics/dedup.json",
    },
    "publish": {
        "cmd": f"broadsheet publish {NORMALIZED} --out {DATASET} --duplicates {DEDUP} --changelog {CHANGELOG}"
        f" --params {PARAMS} --metrics metrics/publish.json --plots metrics/plots",
        "inputs": [NORMALIZED, DEDUP, CHANGELOG],
        "out": {DATASET: {"persist": True}},  # kept during repro: unchanged shards are reused from it
        "metrics": "metrics/publish.json",
        "plots": PLOTS,
    },
}


def stages(own_code: bool) -> dict:
    """The ``stages`` of dvc.yaml: with ``own_code``, as this repository runs them (the toolkit's code and schemas
    are deps); else as a corpus repository does (the installed toolkit, checked against ``requirements.txt``)."""
    found = {}
    for name, spec in _STAGES.items():
        deps = list(spec["inputs"])
        if own_code:
            deps += [f"schemas/{schema.schema_file(s).name}" for s in provenance.STAGES[name].schemas]
            deps += [f"src/broadsheet/{path}" for path in provenance.STAGES[name].code]
            cmd = spec["cmd"]
        else:
            deps.append(PIN)
            cmd = f"{spec['cmd']} --pin {PIN}"
        stage = {"cmd": cmd, "deps": deps, "params": list(provenance.STAGES[name].params), "outs": [spec["out"]]}
        stage["metrics"] = [{spec["metrics"]: {"cache": False}}]
        if "plots" in spec:
            stage["plots"] = spec["plots"]
        found[name] = stage
    return found
