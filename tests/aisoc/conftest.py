"""Kernel-test fixtures: a local Redis Cluster started once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support.redis_cluster import RedisCluster


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """3 masters + 3 replicas on loopback ports, shared by the session (tests use own namespaces)."""
    try:
        cluster = RedisCluster(Path(tmp_path_factory.mktemp("cluster"))).start()
    except RuntimeError as e:
        if IN_CI:
            pytest.fail(str(e))
        pytest.skip(str(e))
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_namespace() -> str:
    """A fresh namespace on the session's cluster (the cluster is thrown away at the end)."""
    return f"c{uuid.uuid4().hex[:10]}"
