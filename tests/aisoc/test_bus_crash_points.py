"""A process SIGKILLed between two writes of one delivery (read, effects with their mark, ack, a
wait for the model) or of a memory snapshot (records saved, cases moved to the cold tier): what is
left must recover with nothing lost and nothing doubled. Each victim runs in a subprocess and kills
itself at the exact point, so the moment is the worst one, not a timing guess."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aisoc import Bus
from tests.aisoc.bus_contract_events import alert_event, verdict_for

ROOT = Path(__file__).resolve().parents[2]

VICTIM = """
import os, signal, sys
from aisoc import Bus
from tests.aisoc.bus_contract_events import verdict_for
url, ns, point = sys.argv[1:4]
bus = Bus(url, namespace=ns, visibility_timeout_ms=60_000)
batch = bus.consume("sentinel", "victim", types=["alert.received"], count=5)
for d in batch[:2]:
    bus.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
    d.ack()
d = batch[2]
if point == "effects, not acked":
    bus.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
elif point == "parked for its model":
    d.retry_later("model down", 30)
elif point == "failed once":
    d.fail("boom")
os.kill(os.getpid(), signal.SIGKILL)
"""

POINTS = ["read, no effects", "effects, not acked", "parked for its model", "failed once"]


@pytest.fixture(params=["sqlite", "redis"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'soc.db'}", "soc"
    return request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")


@pytest.mark.parametrize("point", POINTS)
def test_a_consumer_killed_between_two_writes_of_a_delivery_loses_and_doubles_nothing(
    target: tuple[str, str], point: str
) -> None:
    """Given five alerts and a consumer that handled two and is SIGKILLed on the third at ``point``
    (having read it; having written its effects and mark but not acked; having parked it to wait for
    its model; having failed it once), when another consumer takes over (the wait fallen due), then
    each alert has exactly one verdict, nothing is pending, waiting or dead-lettered."""
    url, ns = target
    bus = Bus(url, namespace=ns)
    alerts = [alert_event(i) for i in range(5)]
    for a in alerts:
        bus.publish(a)
    victim = subprocess.run(
        [sys.executable, "-c", VICTIM, url, ns, point], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert victim.returncode == -9, victim.stderr
    later = time.time() + 3600  # the waiting entry is due; marks are kept for days
    survivor = Bus(url, namespace=ns, visibility_timeout_ms=0, clock=lambda: later)
    for _ in range(10):
        batch = survivor.consume("sentinel", "survivor", types=["alert.received"], count=10)
        if not batch:
            break
        for d in batch:
            survivor.publish_many([verdict_for(d.event)], once=("sentinel", d.event.event_id))
        survivor.ack_many(batch)
    verdicts = Counter(e.causation_id for e in survivor.audit if e.type == "triage.verdict")
    assert verdicts == Counter({a.event_id: 1 for a in alerts})
    (stream,) = [s for s in survivor.stats().streams if s.name == "alerts"]
    assert stream.groups[0].pending == 0
    assert survivor.waiting("sentinel") == [] and survivor.dead_letters() == []
    bus.close()
    survivor.close()


FOLDER = """
import os, signal, sys
from aisoc import Bus
from aisoc.memory import Memory
from aisoc.memory.cold import ColdStore
url, snap, point = sys.argv[1:4]
evict = ColdStore.evict
def dying(self, cases):
    if point == "records saved, not yet cold":
        os.kill(os.getpid(), signal.SIGKILL)
    evict(self, cases)
    os.kill(os.getpid(), signal.SIGKILL)
ColdStore.evict = dying
Memory(Bus(url).audit, snapshot_path=snap, max_cases=40).refresh()
"""


@pytest.mark.parametrize("point", ["records saved, not yet cold", "cases cold, cursor not saved"])
def test_memory_killed_between_the_writes_of_a_snapshot_rebuilds_the_same_answers(
    tmp_path: Path, point: str
) -> None:
    """Given a bounded memory SIGKILLed while moving cases to its cold tier (after its records were
    saved and before they were marked cold; after they were marked cold and before the cursor of
    that fold was saved), when a process opens memory on that snapshot and refreshes, then it
    answers precedent and rule history as an unbounded fold of the log does."""
    from tests.aisoc.memory import factory as f
    from tests.aisoc.memory.test_window import RULES, answers, history

    url = f"sqlite:///{tmp_path / 'soc.db'}"
    bus = Bus(url)
    for e in history(300):
        bus.publish(e)
    snap = tmp_path / "m.sqlite"
    folder = subprocess.run(
        [sys.executable, "-c", FOLDER, url, str(snap), point], cwd=ROOT, capture_output=True, text=True
    )
    assert folder.returncode == -9, folder.stderr
    from aisoc.memory import Memory

    again = Memory(bus.audit, snapshot_path=snap, max_cases=40)
    again.refresh()
    full = Memory(bus.audit)
    for q in (
        f.alert("q1", rule="R1", ind=[("ip", "198.51.100.7")], created=f.at(700)),
        f.alert("q3", rule="R3", ind=[("domain", "d3.example")], created=f.at(40)),
    ):
        assert answers(again, q) == answers(full, q)
    assert [again.rule_history(None, r) for r in RULES] == [full.rule_history(None, r) for r in RULES]
    assert again.held + again.cold == 300
    again.close()
    bus.close()
