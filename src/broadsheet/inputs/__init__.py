"""Where documents come from: walking source folders and tar shards into a plan, and reading each source safely."""
