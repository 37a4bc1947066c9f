"""An S3 remote through dvc-s3, against a real S3 API: a moto server on 127.0.0.1."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

import broadsheet
from broadsheet.versions import load as versions
from helpers import make_project, repro, sh, tree_bytes

pytestmark = pytest.mark.slow

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
}


@pytest.fixture
def s3_endpoint(env, monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in CREDENTIALS.items():
        env[name] = value
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="corpus")
    yield endpoint
    server.stop()


def test_push_to_s3_then_a_fresh_clone_pulls_and_loads_identical_bytes(tmp_path, env, s3_endpoint):
    root = make_project(tmp_path / "corpus-repo", env, extra_docs=50)
    repro(root, env)
    sh(root, env, "dvc", "remote", "add", "-d", "s3", "s3://corpus/store")
    sh(root, env, "dvc", "remote", "modify", "s3", "endpointurl", s3_endpoint)
    sh(root, env, "git", "add", "-A")
    sh(root, env, "git", "commit", "-qm", "corpus on S3")
    sh(root, env, "broadsheet", "release", "v1")
    published = tree_bytes(root / "corpus" / "dataset")
    stored = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="corpus", Prefix="store/")
    assert stored["KeyCount"] > 5

    clone = tmp_path / "colleague"
    sh(tmp_path, env, "git", "clone", "-q", str(root), str(clone))
    sh(clone, env, "dvc", "pull")
    assert tree_bytes(clone / "corpus" / "dataset") == published
    assert "Data and pipelines are up to date" in sh(clone, env, "dvc", "status")

    other = tmp_path / "second-colleague"
    sh(tmp_path, env, "git", "clone", "-q", str(root), str(other))
    assert tree_bytes(versions.fetch(str(other), "v1", cache_dir=tmp_path / "cache")) == published
    loaded = broadsheet.load(str(other), rev="v1", cache_dir=tmp_path / "cache")
    assert sum(len(s) for s in loaded.values()) == 51
