"""Tenant isolation on the durable buses: the twins of ``tests/aisoc/tenant_twins.py`` through the team on
SQLite, Redis and Redis Cluster, where case ids become keys and rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from redis.cluster import key_slot

from aisoc.bus import Bus
from aisoc.errors import BusError
from aisoc.sources import ingest
from tests.aisoc import tenant_twins as tw
from tests.support.redis_cluster import RedisCluster
from tests.support.sources import ListSource

BRACES = (None, "acme", "{soc}", "acme}", "{acme", "acme:eu", "日本支社")
"""Tenants whose names hold what Redis Cluster hash tags and key names are made of."""


def check_durable(world: tw.World, url: str, namespace: str | None = None) -> None:
    """The isolation checks, then the same twins ingested again through a new connection: every one
    a duplicate of its own tenant's case, each id as before."""
    tw.check_all(world)
    assert tw.check_proposals(world) > 0
    assert tw.closed_by_sentinel(world) == {t: t == tw.LABELLED for t in world.tenants}
    again = Bus(url, namespace=namespace) if namespace else Bus(url)
    stats = ingest(ListSource([tw.twin(t) for t in world.tenants], name="edr"), again)
    assert stats.published == 0 and stats.duplicates == len(world.tenants)
    assert sorted(again.audit.for_case(tw.CASE_IDS[t])[0].case_id or "" for t in world.tenants) == sorted(
        tw.CASE_IDS[t] for t in world.tenants
    )


def test_the_twins_stay_apart_on_sqlite(tmp_path: Path) -> None:
    """Given the twins of tenants with braces, colons, case variants and unicode on the SQLite bus,
    then every isolation check holds and a second connection sees each case under its own id."""
    url = f"sqlite:///{tmp_path / 'soc.db'}"
    world = tw.run(Bus(url), tmp_path, tw.FEW + ("{acme",))
    check_durable(world, url)


@pytest.mark.redis
def test_the_twins_stay_apart_on_redis_and_every_key_keeps_the_namespace_tag(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    """Given the twins on the Redis bus, then every isolation check holds; every key of the namespace,
    the per-case keys of tenants named with braces included, hashes on the namespace's tag alone, and
    each tenant's case has its own per-case key."""
    world = tw.run(Bus(redis_url, namespace=namespace), tmp_path, BRACES)
    check_durable(world, redis_url, namespace)
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match=f"{{{namespace}}}:*", count=1000)]
    assert keys and {key_slot(k.encode()) for k in keys} == {key_slot(f"{{{namespace}}}".encode())}
    case_keys = {
        k.removeprefix(f"{{{namespace}}}:case:") for k in keys if k.startswith(f"{{{namespace}}}:case:")
    }
    assert {tw.CASE_IDS[t] for t in BRACES} <= case_keys


@pytest.mark.redis
def test_a_namespace_cannot_carry_a_tenants_braces_or_separators(redis_url: str) -> None:
    """Given a namespace per tenant (an MSSP's layout), then a name that would open or close a hash tag,
    or add the key separator, is refused: it could make one namespace's keys another's."""
    for name in ("acme}", "{acme", "acme:eu", "{acme}"):
        with pytest.raises(BusError, match="namespace"):
            Bus(redis_url, namespace=name)


@pytest.mark.redis
def test_the_twins_on_redis_cluster_hash_to_one_slot_per_namespace(
    redis_cluster: RedisCluster, cluster_namespace: str, tmp_path: Path
) -> None:
    """Given the twins of tenants named with braces worked on a real Redis Cluster, then the isolation
    checks hold and every key the namespace wrote is in the namespace's one slot."""
    world = tw.run(Bus(redis_cluster.url, namespace=cluster_namespace), tmp_path, BRACES)
    tw.check_all(world)
    keys = {
        k
        for master in redis_cluster.masters_now()
        for k in redis_cluster.client(master).scan_iter(match=f"{{{cluster_namespace}}}:*", count=1000)
    }
    assert keys and {key_slot(k.encode()) for k in keys} == {key_slot(f"{{{cluster_namespace}}}".encode())}
