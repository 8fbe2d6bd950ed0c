"""The SOC deployed as documented on a real Redis Cluster: separate processes, real Wazuh alerts, and
the cluster failing over and resharding under them.

Marked ``chaos`` (``make test-chaos``): it starts clusters of its own and kills processes and nodes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.cluster_drill import ClusterDrill

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize(("masters", "replicas"), [(3, 1), (3, 0)], ids=["3+3", "3 masters"])
def test_a_soc_on_a_cluster_survives_kills_failovers_and_a_reshard(
    tmp_path: Path, masters: int, replicas: int
) -> None:
    """Given the Procfile's workers, scheduler, gate, bot and ingest as separate processes on a Redis
    Cluster named only by the documented settings, when real alerts flow while a worker is SIGKILLed
    holding deliveries, the master of the SOC's slot is SIGKILLed (with replicas), a replica is
    promoted by CLUSTER FAILOVER (without replicas: another master is down for a while, so the
    cluster is), and redis-cli reshards the slot to another master: then every alert
    reaches exactly one outcome, nothing is produced or proposed twice, the bad lines are the only
    dead letters, every process stops cleanly, status, bus stats and dlq list answer throughout, and
    status on the cluster while it is down says so in one line."""
    drill = ClusterDrill(tmp_path, masters=masters, replicas=replicas)
    try:
        drill.setup()
        drill.run()
        problems = drill.check()
    finally:
        drill.close()
    assert not problems, drill.describe() + "\n" + "\n".join(problems[:20])
    # No process exits on its own: the bus retries CLUSTERDOWN until the cluster settles, and a
    # worker waits out the BusError after it (they exited during the outage before that fix).
    assert not drill.crashes, drill.describe()
    for what, done in drill.cli.items():
        if what.endswith("(while the cluster is down)"):  # says so in one line, exit 2
            assert done.returncode == 2 and "down" in done.stderr and "Traceback" not in done.stderr, done
            continue
        assert done.returncode == 0, f"aisoc {what}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    status = next(d.stdout for w, d in drill.cli.items() if w.startswith("status (after the reshard"))
    assert "dead letters: 2" in status and "no process" not in status, status
    letters = next(d.stdout for w, d in drill.cli.items() if w.startswith("bus dlq list (after the reshard"))
    assert letters.count("alerts/ingest") == 2, letters
