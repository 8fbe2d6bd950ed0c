"""What ``durability`` means on Redis, checked when the bus starts.

``fast``: a publish returns once Redis has it in memory; with ``appendonly yes`` and the default
``appendfsync everysec`` a crash of Redis can lose about the last second of acknowledged publishes.
``fsync``: a publish returns only once it is on disk. On Redis >= 7.2 every publish waits for
``WAITAOF 1 0 0`` (the local fsync of that write); on older servers the bus requires
``appendonly yes`` and ``appendfsync always`` and refuses to start otherwise. Where ``CONFIG`` is
disabled (managed Redis) the settings cannot be read: the bus starts and says so in a warning.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import ResponseError

from aisoc.errors import BusError

log = logging.getLogger(__name__)

DURABILITY_MODES = ("fast", "fsync")
"""The accepted values of the ``durability`` setting."""
WAITAOF_SINCE = (7, 2)
"""The first Redis version with ``WAITAOF``."""


def _version(text: str) -> tuple[int, int]:
    major, minor, *_ = (text.split(".") + ["0", "0"])[:3]
    return int(major), int(minor)


def _servers(client: Any) -> list[tuple[str, Any]]:
    """(name, client) of every server that takes writes: the node, or each cluster primary."""
    if hasattr(client, "get_primaries"):
        return [(n.name, client.get_redis_connection(n)) for n in client.get_primaries()]
    kw = client.connection_pool.connection_kwargs
    return [(f"{kw.get('host', kw.get('path', '?'))}:{kw.get('port', '')}", client)]


def check_durability(bus: Any, mode: str) -> bool:
    """Verify that Redis can keep ``mode``'s promise; return whether publishes must ``WAITAOF``.

    Raises:
        BusError: ``fsync`` was asked and a server is configured so that acknowledged publishes can
            be lost on a crash.
    """
    if mode == "fast":
        return False
    waitaof = True
    for name, server in _servers(bus._r):
        version = _version(str(bus._call(server.info, "server")["redis_version"]))
        try:
            config = bus._call(server.config_get, "append*")
        except ResponseError as e:  # CONFIG renamed or refused (managed Redis)
            log.warning(
                "durability=fsync: cannot read the persistence settings of Redis %s (%s); "
                "make sure it runs with appendonly yes%s",
                name,
                e,
                "" if version >= WAITAOF_SINCE else " and appendfsync always",
            )
            config = {}
        appendonly, appendfsync = config.get("appendonly"), config.get("appendfsync")
        if appendonly == "no":
            raise BusError(
                f"durability=fsync: Redis {name} runs with appendonly no, so a restart loses "
                "acknowledged publishes; set appendonly yes (and appendfsync always before Redis 7.2) "
                "or choose durability=fast"
            )
        if version < WAITAOF_SINCE:
            waitaof = False
            if appendfsync not in (None, "always"):
                raise BusError(
                    f"durability=fsync: Redis {name} ({'.'.join(map(str, version))}, no WAITAOF) runs "
                    f"with appendfsync {appendfsync}, which loses up to a second of acknowledged "
                    "publishes on a crash; set appendfsync always or choose durability=fast"
                )
    return waitaof
