"""One place that turns a Redis URL into a redis-py client: a single node or a Redis Cluster.

Single node: ``redis://[user:password@]host:6379/0``, ``rediss://...`` (TLS), ``unix:///path.sock``.
Cluster: ``redis+cluster://[user:password@]host1:7000,host2:7001/`` (``rediss+cluster://`` for TLS):
one or more seed nodes, comma-separated; the client discovers the rest, follows ``MOVED``/``ASK``
redirections and fails over with the cluster. A cluster has database 0 only. The bus, the gate's
approval store and the scheduler's locks all connect through here.

A cluster client starts while some hash slots have no master (a master without a replica is down):
every key of a SOC lives in its namespace's one slot, so only that slot's master matters, and the
servers themselves say whether the rest of the cluster keeps serving (``cluster-require-full-coverage``).
"""

from __future__ import annotations

from typing import Any

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
"""URL schemes that name a Redis Cluster (seed nodes comma-separated)."""
SINGLE_SCHEMES = ("redis", "rediss", "unix")
"""URL schemes of one Redis server."""


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def cluster_seeds(url: str) -> tuple[str, list[tuple[str, int]]]:
    """Split a cluster URL into the single-node URL of its first seed and every seed's (host, port).

    Raises:
        ValueError: not a cluster URL, no seed, a bad port, or a database other than 0.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError(f"{url!r} is not a cluster URL ({' or '.join(CLUSTER_SCHEMES)}://HOST:PORT,...)")
    netloc, _, tail = rest.partition("/")
    creds, at, hosts = netloc.rpartition("@")
    db, _, query = tail.partition("?")
    if db not in ("", "0"):
        raise ValueError(f"Redis Cluster URL {url!r}: a cluster has database 0 only")
    seeds: list[tuple[str, int]] = []
    for item in filter(None, hosts.split(",")):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "6379")
        if not port.isdigit():
            raise ValueError(f"Redis Cluster URL {url!r}: bad port in {item!r}")
        seeds.append((host, int(port)))
    if not seeds:
        raise ValueError(f"Redis Cluster URL {url!r}: name at least one seed node")
    base = "rediss" if scheme.lower().startswith("rediss") else "redis"
    first = f"{base}://{creds}{at}{seeds[0][0]}:{seeds[0][1]}/0" + (f"?{query}" if query else "")
    return first, seeds


def connect(url: str, *, decode: bool = True, **options: Any) -> Any:
    """A redis-py client for ``url``: ``redis.Redis`` for one node, ``RedisCluster`` for a cluster.

    Args:
        url: see the module docstring for the forms.
        decode: decode replies to ``str`` (False keeps ``bytes``, for data that may not be UTF-8).
        options: passed to the client (timeouts, ``protocol``...).

    Raises:
        ValueError: a cluster URL that does not parse.
    """
    import redis
    from redis.cluster import ClusterNode, RedisCluster

    if is_cluster_url(url):
        first, seeds = cluster_seeds(url)
        # redis-py's default refuses to start unless every slot of the cluster has a master: a
        # process restarted while another namespace's master is down would crash-loop instead.
        options.setdefault("require_full_coverage", False)
        return RedisCluster.from_url(
            first,
            startup_nodes=[ClusterNode(h, p) for h, p in seeds],  # type: ignore[no-untyped-call]
            decode_responses=decode,
            **options,
        )
    return redis.Redis.from_url(url, decode_responses=decode, **options)
