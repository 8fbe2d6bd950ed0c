"""Fixtures for every package's tests: Redis (shared, private, or a local cluster) and the bundled data."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aisoc.bus import Bus
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
"""Under CI a missing Redis (or Chromium) is a failure, not a skip."""
SHARED_REDIS = os.environ.get("AISOC_TEST_REDIS", "redis://127.0.0.1:6379/15")
"""The machine's Redis; tests use their own database and namespace and clean up after."""
DATA = Path(__file__).resolve().parents[1] / "data"
"""The real alert data, vendored byte for byte from the shared data folder (see data/README.md)."""


def _redis_or_skip(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as e:
        if IN_CI:
            pytest.fail(f"Redis is required under CI but {url} does not answer: {e}")
        pytest.skip(f"no Redis at {url}: {e}")


@pytest.fixture(autouse=True)
def _entry_point_logging() -> Iterator[None]:
    """An entry point run in a test (``main([...])``) configures the root logger with a handler on the
    ``sys.stderr`` of that moment, a capture that closes with the test: take it off afterwards, so a
    later test's log lines never go to a closed stream (and its stderr holds only its own)."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared Redis, with a fresh namespace; its keys are deleted afterwards."""
    _redis_or_skip(SHARED_REDIS)
    yield SHARED_REDIS


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique bus namespace; every Redis key under it is removed after the test."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    if "redis_url" in request.fixturenames:
        import redis

        client = redis.Redis.from_url(SHARED_REDIS)
        keys = list(client.scan_iter(match=f"{{{ns}}}:*", count=1000))
        if keys:
            client.delete(*keys)


def _started(start: Callable[[], T]) -> T:
    """Start a private server, or skip the test when it cannot start (fail under CI)."""
    try:
        return start()
    except RuntimeError as e:
        if IN_CI:
            pytest.fail(str(e))
        pytest.skip(str(e))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server with AOF (fsync always) on a free port, stopped afterwards."""
    server = _started(lambda: RedisServer(tmp_path / "redis", appendonly=True).start())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A local Redis Cluster (3 masters + 3 replicas on loopback ports) shared by the session; tests
    use their own namespaces (``cluster_namespace``) and the cluster is thrown away at the end."""
    cluster = _started(lambda: RedisCluster(Path(tmp_path_factory.mktemp("cluster"))).start())
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_namespace() -> str:
    """A fresh namespace on the session's cluster."""
    return f"c{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bus() -> Iterator[Bus]:
    """A fresh in-memory bus."""
    b = Bus()
    yield b
    b.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The repository's ``data/`` folder: real Wazuh and GUIDE alerts and the Adaptive Cards schema."""
    assert DATA.is_dir(), f"the data folder is missing: {DATA}"
    return DATA


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium launched by Playwright from its path (never a downloaded browser)."""
    import os

    from tests.support.browser import ARGS, CHROMIUM

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test-browser does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
