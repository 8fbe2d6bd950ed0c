"""Disaster recovery, the whole drill: export the log, lose the bus and the gate's store, import, re-ingest.

Nothing is published twice and the approvals that were pending are pending again; those decided stay
decided."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aisoc.bus import Bus
from aisoc.cli import main
from aisoc.events import AlertReceived
from gate import Gate, State
from gate.server import GateWorker
from tests.gate.factory import Clock, gate_settings, publish_case

WAZUH = Path(__file__).resolve().parents[2] / "data" / "wazuh" / "alerts.jsonl"


def test_the_restore_drill_publishes_nothing_new_and_keeps_pending_approvals_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given a SOC with 89 ingested Wazuh alerts and two cases' approvals, one decided and one pending,
    when its log is exported, the bus and the gate's store are lost, the export is imported into a new
    bus and the source is ingested again from its start, then nothing is published, the pending request
    is pending again under the same id, and the decided one is not reopened."""
    monkeypatch.chdir(tmp_path)
    old = f"sqlite:///{tmp_path / 'old' / 'soc.db'}"
    (tmp_path / "old").mkdir()
    assert main(["ingest", "wazuh", str(WAZUH), "--bus", old]) == 0
    gate = Gate(Bus(old), gate_settings(), clock=Clock())
    decided, pending = publish_case(gate.bus, 1), publish_case(gate.bus, 2)
    for case in (decided, pending):
        gate.submit(case.proposal)
    gate.decide(
        decided.proposal.event_id, person_id="alice", decision="rejected", reason="no", identity_source="t"
    )
    gate.close()
    backup = tmp_path / "backup.jsonl.gz"
    assert main(["audit", "export", "--bus", old, "--out", str(backup)]) == 0
    before = len(Bus(old).audit)

    new = f"sqlite:///{tmp_path / 'new' / 'soc.db'}"  # a new host: no bus, no gate store, no cursors
    (tmp_path / "new").mkdir()
    assert main(["audit", "import", str(backup), "--bus", new]) == 0
    capsys.readouterr()
    assert main(["ingest", "wazuh", str(WAZUH), "--bus", new, "--from-start"]) == 0
    assert "0 published, 89 duplicate(s)" in capsys.readouterr().out
    assert len(Bus(new).audit) == before
    assert sum(isinstance(e, AlertReceived) for e in Bus(new).audit) == 89 + 2

    restored = Gate(Bus(new), gate_settings(), clock=Clock())
    assert restored.store.pending() == []
    worker = GateWorker(restored, block_ms=10).start()
    deadline = time.monotonic() + 10
    while not restored.store.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    assert [r.request_id for r in restored.store.pending()] == [pending.proposal.event_id]
    assert restored.store.get(decided.proposal.event_id) is None
    assert restored.get(pending.proposal.event_id).state is State.PENDING
    assert restored.recover() == 0  # a request the store has is left as it is
    restored.close()
