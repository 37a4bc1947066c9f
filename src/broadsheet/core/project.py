"""A corpus repository's layout: where its settings, changelog and each stage's folder live by default."""

PARAMS = "params.yaml"
CHANGELOG = "CHANGELOG.md"
RAW = "corpus/raw"
NORMALIZED = "corpus/normalized"
DEDUP = "corpus/dedup"
DATASET = "corpus/dataset"
