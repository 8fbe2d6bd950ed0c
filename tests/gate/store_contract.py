"""The approval-store contract, run against every backend (SQLite in memory, SQLite file, Redis)."""

from __future__ import annotations

import json
import re
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest

from aisoc.bus import Bus
from aisoc.events import ActionReminded, Component, ProducedBy
from gate.errors import UnreadableRequest
from gate.store import ApprovalRequest, RequestStore, State
from gate.store_redis import RedisRequestStore, _glob
from gate.store_sqlite import SqliteRequestStore
from tests.gate.factory import T0, publish_case


def make_request(n: int = 1, *, case: str | None = None, minutes: int = 0) -> ApprovalRequest:
    """A pending request built from a real proposal."""
    proposal = publish_case(Bus(), n).proposal
    if case is not None:
        proposal = proposal.model_copy(update={"case_id": case})
    return ApprovalRequest.from_proposal(
        proposal, created_at=T0 + timedelta(minutes=minutes), approver="alice"
    )


def reminder(req: ApprovalRequest) -> ActionReminded:
    return ActionReminded(
        case_id=req.case_id, produced_by=ProducedBy(role=Component.GATE), action_id=req.action_id, reminder=1
    )


def plant(store: RequestStore, request_id: str, data: str | bytes, *, case_id: str | None) -> None:
    """Write ``data`` as the pending record ``request_id`` straight into the store's backend, the way
    a hand edit or a bad restore would (no check, no outbox)."""
    if isinstance(store, SqliteRequestStore):
        with store._tx() as db:
            db.execute(
                "INSERT INTO gate_requests VALUES (?, ?, 'pending', 1, ?, CAST(? AS TEXT))",
                (request_id, case_id, T0.timestamp(), data),
            )
        return
    assert isinstance(store, RedisRequestStore)
    client, key = store._r, store._key
    client.hset(key(f"gate:req:{request_id}"), mapping={"v": 1, "d": data})
    for name in ("gate:pending", "gate:all", f"gate:case:{case_id}"):
        client.zadd(key(name), {request_id: T0.timestamp()})


def unplant(store: RequestStore, request_id: str) -> None:
    """Remove the record ``request_id`` straight from the store's backend, as its operator would."""
    if isinstance(store, SqliteRequestStore):
        with store._tx() as db:
            db.execute("DELETE FROM gate_requests WHERE request_id = ?", (request_id,))
        return
    assert isinstance(store, RedisRequestStore)
    client, key = store._r, store._key
    client.delete(key(f"gate:req:{request_id}"))
    client.zrem(key("gate:pending"), request_id)
    client.zrem(key("gate:all"), request_id)


def set_version(store: RequestStore, request_id: str, version: object) -> None:
    """Write ``version`` as the stored version of ``request_id`` (the SQLite column, the Redis ``v``
    field) straight into the backend, leaving its record as it is (a hand edit, a bad restore)."""
    if isinstance(store, SqliteRequestStore):
        with store._tx() as db:
            db.execute("UPDATE gate_requests SET version = ? WHERE request_id = ?", (version, request_id))
        return
    assert isinstance(store, RedisRequestStore)
    store._r.hset(store._key(f"gate:req:{request_id}"), "v", version)


def rewrite(store: RequestStore, request_id: str, data: str | bytes) -> None:
    """Write ``data`` as the stored record of ``request_id`` straight into the backend, leaving its
    version, state column and indexes as they are (a newer release's record, a hand edit)."""
    if isinstance(store, SqliteRequestStore):
        with store._tx() as db:
            db.execute(
                "UPDATE gate_requests SET data = CAST(? AS TEXT) WHERE request_id = ?", (data, request_id)
            )
        return
    assert isinstance(store, RedisRequestStore)
    store._r.hset(store._key(f"gate:req:{request_id}"), "d", data)


def plant_event(
    store: RequestStore, event_id: str, payload: str | bytes, etype: str = "action.reminded"
) -> None:
    """Queue ``payload`` as outbox entry ``event_id`` straight into the store's backend."""
    if isinstance(store, SqliteRequestStore):
        with store._tx() as db:
            db.execute(
                "INSERT INTO gate_outbox (event_id, type, payload) VALUES (?, ?, CAST(? AS TEXT))",
                (event_id, etype, payload),
            )
        return
    assert isinstance(store, RedisRequestStore)
    client, key = store._r, store._key
    client.hset(key("gate:outbox"), event_id, payload)
    client.zadd(key("gate:outbox:order"), {event_id: client.incr(key("gate:outbox:seq"))})


GARBAGE = [
    "not json at all",
    '{"request_id": "damaged-2"}',
    "{}",
]
"""Records written into a store by something other than the gate (by hand, a bad restore, a newer
version): not JSON, missing fields, nothing at all."""


class StoreContract:
    """Subclasses provide ``create_store()`` and ``plant()``; every backend must pass every test."""

    def create_store(self) -> RequestStore:
        raise NotImplementedError

    def plant(self, store: RequestStore, request_id: str, data: str, *, case_id: str | None) -> None:
        """Write ``data`` as the pending record ``request_id`` straight into the backend."""
        plant(store, request_id, data, case_id=case_id)

    def plant_event(self, store: RequestStore, event_id: str, payload: str) -> None:
        """Queue ``payload`` as outbox entry ``event_id`` straight into the backend."""
        plant_event(store, event_id, payload)

    def test_create_is_idempotent_and_get_returns_what_was_stored(self) -> None:
        """Given a new request, when created twice, then the second is refused and the record round-trips."""
        store, req = self.create_store(), make_request()
        assert store.create(req) and not store.create(req.evolve(target="other"))
        assert store.get(req.request_id) == req and store.get("nope") is None
        assert isinstance(store, RequestStore)

    def test_replace_is_compare_and_set_on_the_version(self) -> None:
        """Given a stored request, when two writers replace version 1, then only the first succeeds."""
        store, req = self.create_store(), make_request()
        store.create(req)
        first, second = req.evolve(reminders=1), req.evolve(state=State.APPROVED)
        assert store.replace(first) and not store.replace(second)
        assert store.get(req.request_id) == first
        assert store.replace(first.evolve(state=State.REJECTED))
        assert store.get(req.request_id).state == State.REJECTED  # type: ignore[union-attr]

    def test_pending_case_and_recent_listings(self) -> None:
        """Given requests in two cases, when listed, then pending, per-case and newest-first views agree."""
        store = self.create_store()
        a, b, c = (
            make_request(1, case="x:1"),
            make_request(2, case="x:1", minutes=1),
            make_request(3, minutes=2),
        )
        for r in (a, b, c):
            store.create(r)
        store.replace(b.evolve(state=State.EXPIRED))
        assert [r.request_id for r in store.pending()] == [a.request_id, c.request_id]
        assert [r.request_id for r in store.for_case("x:1")] == [a.request_id, b.request_id]
        assert [r.request_id for r in store.recent(2)] == [c.request_id, b.request_id]

    def test_outbox_is_written_with_the_transition_and_cleared_after(self) -> None:
        """Given a transition with an event, when it succeeds, then the event waits in the outbox."""
        store, req = self.create_store(), make_request()
        store.create(req)
        event = reminder(req)
        assert not store.replace(
            req.model_copy(update={"version": 5}), [reminder(req)]
        )  # lost CAS: nothing queued
        assert store.replace(req.evolve(reminders=1), [event])
        assert store.outbox() == [event]
        store.clear_outbox([event.event_id])
        assert store.outbox() == []

    def test_prune_forgets_requests_that_ended_long_ago_and_keeps_the_rest(self) -> None:
        """Given requests approved, expired, carried out, still pending, and one approved just now,
        when pruned with a cut, then only those that ended before it are gone from every listing."""
        store = self.create_store()
        reqs = [make_request(n, case="x:1" if n < 3 else None, minutes=n) for n in range(1, 7)]
        for r in reqs:
            store.create(r)
        old, late = T0 + timedelta(hours=1), T0 + timedelta(days=3)
        store.replace(reqs[0].evolve(state=State.APPROVED, decided_at=old))
        store.replace(reqs[1].evolve(state=State.EXPIRED))  # ends at its deadline
        store.replace(reqs[2].evolve(state=State.APPROVED, decided_at=old, executed_at=old))
        store.replace(reqs[3].evolve(state=State.APPROVED, decided_at=old, executed_at=late))
        store.replace(reqs[4].evolve(state=State.REJECTED, decided_at=late))
        cut = max(old, reqs[1].expires_at) + timedelta(minutes=1)
        assert cut < late
        assert store.prune(cut, limit=2) == 2
        assert store.prune(cut) == 1
        assert store.prune(cut) == 0
        left = {r.request_id for r in store.recent(100)}
        assert left == {reqs[3].request_id, reqs[4].request_id, reqs[5].request_id}
        assert [r.request_id for r in store.pending()] == [reqs[5].request_id]
        assert store.for_case("x:1") == [] and store.get(reqs[0].request_id) is None

    def test_prune_decides_on_the_parsed_record_and_keeps_one_that_does_not_parse(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given a request approved long ago whose stored record also carries the words pending and
        ``"state":"pending"`` in other fields (a note of a newer release, its rationale), one whose
        record became garbage bytes after it ended, and one still pending, when pruned again and
        again, then the approved one goes (its state field decides, not the text), the garbage one is
        kept and logged once as unreadable, the pass never fails, and the pending one stays."""
        store = self.create_store()
        noted, garbled, waiting = (make_request(n, case="x:1", minutes=n) for n in (1, 2, 3))
        for r in (noted, garbled, waiting):
            store.create(r)
        old = T0 + timedelta(hours=1)
        for r in (noted, garbled):
            assert store.replace(r.evolve(state=State.APPROVED, decided_at=old, rationale="was pending"))
        record = json.loads(store.get(noted.request_id).model_dump_json())  # type: ignore[union-attr]
        record["history"] = [{"state": "pending", "at": T0.isoformat()}]  # unknown to the model: ignored
        rewrite(store, noted.request_id, json.dumps(record, separators=(",", ":")))
        rewrite(store, garbled.request_id, b'\xff\x00"state":"approved"\xfe')
        with caplog.at_level("ERROR", logger="gate"):
            assert store.prune(T0 + timedelta(days=30)) == 1
            assert store.prune(T0 + timedelta(days=30)) == 0
        assert store.get(noted.request_id) is None
        with pytest.raises(UnreadableRequest, match=garbled.request_id):
            store.get(garbled.request_id)
        named = [r for r in caplog.records if garbled.request_id in r.getMessage()]
        assert len(named) == 1 and "not a readable request" in named[0].getMessage()
        assert [r.request_id for r in store.pending()] == [waiting.request_id]
        assert [r.request_id for r in store.for_case("x:1")] == [waiting.request_id]

    def test_prune_keeps_a_request_changed_between_its_read_and_its_delete(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Given a request approved long ago, when a person records it carried out after pruning read
        it (ended long ago) and before pruning deletes it (driven through the store's own read), then
        pruning keeps it, as carried out, and so does the next prune with the same cut."""
        store, req = self.create_store(), make_request()
        store.create(req)
        approved = req.evolve(state=State.APPROVED, decided_at=T0 + timedelta(hours=1))
        assert store.replace(approved)
        done = approved.evolve(executed_at=T0 + timedelta(days=40))
        module = sys.modules[type(store).__module__]
        real = module.readable

        def read_then_record_done(records: Any, noted: Any) -> list[ApprovalRequest]:
            found: list[ApprovalRequest] = real(records, noted)
            if any(r.request_id == req.request_id for r in found):
                monkeypatch.setattr(module, "readable", real)
                assert store.replace(done)  # between the read and the delete
            return found

        monkeypatch.setattr(module, "readable", read_then_record_done)
        cut = T0 + timedelta(days=30)
        assert store.prune(cut) == 0
        assert store.get(req.request_id) == done
        assert store.prune(cut) == 0 and [r.request_id for r in store.recent()] == [req.request_id]

    def test_unreadable_records_are_left_out_of_listings_and_named_when_asked_for(self) -> None:
        """Given damaged records written straight into the store beside good ones (garbage, missing
        fields, an unknown action kind, a good record under another id), when listed, then every
        listing holds the good ones only; when one is asked for by id, then UnreadableRequest names
        it; and pruning skips it."""
        store = self.create_store()
        good = [make_request(1, case="x:1"), make_request(2, case="x:1", minutes=1)]
        for r in good:
            store.create(r)
        bad = {f"damaged-{i}": data for i, data in enumerate(GARBAGE, 1)}
        bad["damaged-kind"] = good[0].model_dump_json().replace('"isolate_host"', '"launch_missiles"')
        bad["damaged-copy"] = good[1].model_dump_json()
        for rid, data in bad.items():
            self.plant(store, rid, data, case_id="x:1")
        ids = [r.request_id for r in good]
        assert [r.request_id for r in store.pending()] == ids
        assert [r.request_id for r in store.for_case("x:1")] == ids
        assert sorted(r.request_id for r in store.recent(100)) == sorted(ids)
        for rid in bad:
            with pytest.raises(UnreadableRequest) as caught:
                store.get(rid)
            assert caught.value.request_id == rid and rid in str(caught.value)
        assert store.get(ids[0]) == good[0]
        store.replace(good[0].evolve(state=State.REJECTED, decided_at=T0))
        assert store.prune(T0 + timedelta(days=30)) == 1
        assert [r.request_id for r in store.pending()] == ids[1:]

    def test_a_damaged_outbox_entry_is_set_aside_once_and_the_rest_flows(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given damaged outbox entries written straight into the store (not JSON, JSON of no event,
        a good event under another id, an empty payload), more of them than one read's limit, queued
        before a good event, when the outbox is read again and again, then the good event comes out
        on the first read, each damaged entry is logged once naming it and moved aside with its raw
        payload and the reason (never published, never read again), and clearing the good event
        empties the outbox."""
        store, req = self.create_store(), make_request()
        store.create(req)
        other = reminder(req)
        damaged = {
            "bad-garbage": "garbage",
            "bad-json": '{"type": "action.reminded"}',
            "bad-copy": other.to_json(),
            "bad-empty": "",
        }
        for event_id, payload in damaged.items():
            self.plant_event(store, event_id, payload)
        event = reminder(req)
        assert store.replace(req.evolve(reminders=1), [event])
        with caplog.at_level("ERROR", logger="gate"):
            for _ in range(3):
                assert store.outbox(limit=2) == [event]
        for event_id in damaged:
            named = [r for r in caplog.records if event_id in r.getMessage()]
            assert len(named) == 1, (event_id, [r.getMessage() for r in caplog.records])
        aside = store.damaged_outbox()
        assert [(d.event_id, d.payload) for d in aside] == list(damaged.items())
        assert all(d.problem for d in aside) and other.event_id in aside[2].problem
        store.clear_outbox([event.event_id])
        assert store.outbox() == [] and len(store.damaged_outbox()) == len(damaged)

    def test_bytes_that_are_not_utf8_in_a_record_or_an_outbox_entry_break_nothing_else(self) -> None:
        """Given a record and an outbox entry whose stored text is not UTF-8 (a broken disk, a bad
        restore), written straight into the store beside a good request and a good event, when the
        store is listed, read and flushed, then the good ones come out, the record is named as
        unreadable when asked for, and the entry is set aside with its bytes as they were."""
        store, req = self.create_store(), make_request(1, case="x:1")
        store.create(req)
        self.plant(store, "damaged-bytes", b"\xff{\xfe", case_id="x:1")
        self.plant_event(store, "bad-bytes", b"\xff\xfe")
        event = reminder(req)
        assert store.replace(req.evolve(reminders=1), [event])
        assert [r.request_id for r in store.pending()] == [req.request_id]
        assert [r.request_id for r in store.for_case("x:1")] == [req.request_id]
        assert [r.request_id for r in store.recent()] == [req.request_id]
        with pytest.raises(UnreadableRequest, match="damaged-bytes"):
            store.get("damaged-bytes")
        assert store.outbox() == [event]
        (aside,) = store.damaged_outbox()
        assert (aside.event_id, aside.payload) == ("bad-bytes", b"\xff\xfe") and "UTF-8" in aside.problem
        assert store.prune(T0 + timedelta(days=30)) == 0

    def test_a_record_whose_stored_version_is_not_its_own_is_unreadable_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given requests whose stored version (written straight into the store) is another number
        than their record's, or garbage, beside a good one, when listed again and again, then the
        listings hold the good one only and each damaged record is logged once naming it; asked for
        by id, each is UnreadableRequest naming it and saying why; no compare-and-set changes them."""
        store = self.create_store()
        good, ahead, garbage = (make_request(n, case="x:1", minutes=n) for n in (1, 2, 3))
        for r in (good, ahead, garbage):
            store.create(r)
        set_version(store, ahead.request_id, 7)
        set_version(store, garbage.request_id, "seven")
        with caplog.at_level("ERROR", logger="gate"):
            for _ in range(3):
                assert [r.request_id for r in store.pending()] == [good.request_id]
                assert [r.request_id for r in store.for_case("x:1")] == [good.request_id]
                assert [r.request_id for r in store.recent()] == [good.request_id]
        for damaged, why in ((ahead, "stored version 7 is not the version 1"), (garbage, "'seven'")):
            named = [r for r in caplog.records if damaged.request_id in r.getMessage()]
            assert len(named) == 1 and why in named[0].getMessage(), [r.getMessage() for r in named]
            with pytest.raises(UnreadableRequest, match=why) as caught:
                store.get(damaged.request_id)
            assert caught.value.request_id == damaged.request_id
            assert not store.replace(damaged.evolve(state=State.APPROVED))
        assert store.get(good.request_id) == good

    def test_concurrent_compare_and_set_has_exactly_one_winner(self) -> None:
        """Given 50 threads replacing the same version, when they race, then exactly one succeeds."""
        store, req = self.create_store(), make_request()
        store.create(req)
        wins: list[int] = []
        barrier = threading.Barrier(50)

        def race(i: int) -> None:
            barrier.wait()
            if store.replace(req.evolve(state=State.APPROVED, decided_by=f"p{i}"), [reminder(req)]):
                wins.append(i)

        threads = [threading.Thread(target=race, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and len(store.outbox()) == 1
        assert store.get(req.request_id).decided_by == f"p{wins[0]}"  # type: ignore[union-attr]


class RedisStoreContract(StoreContract):
    """What only the Redis store keeps apart from its records: the sorted sets of ids."""

    def test_a_member_that_is_not_utf8_fails_itself_only_and_is_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given members whose bytes are not UTF-8 written straight into the pending, all, case and
        outbox order sets beside good requests and a good event, when the store is listed, flushed
        and pruned again and again, then the good ones come out, each bad member is logged once
        naming its set, and the outbox one is set aside (never published, not read again)."""
        store = self.create_store()
        assert isinstance(store, RedisRequestStore)
        client, key = store._r, store._key
        a, b = make_request(1, case="x:1"), make_request(2, case="x:1", minutes=1)
        for r in (a, b):
            store.create(r)
        bad = b"\xff\xfe-not-an-id"
        for name in ("gate:pending", "gate:all", "gate:case:x:1"):
            client.zadd(key(name), {bad: T0.timestamp() - 1})
        client.zadd(key("gate:outbox:order"), {bad: 0})
        event = reminder(a)
        assert store.replace(a.evolve(reminders=1), [event])
        store.replace(b.evolve(state=State.REJECTED, decided_at=T0))
        with caplog.at_level("ERROR", logger="gate"):
            for _ in range(3):
                assert [r.request_id for r in store.pending()] == [a.request_id]
                assert [r.request_id for r in store.for_case("x:1")] == [a.request_id, b.request_id]
                assert [r.request_id for r in store.recent()] == [b.request_id, a.request_id]
                assert store.outbox() == [event]
        assert store.prune(T0 + timedelta(days=30)) == 1 and store.get(b.request_id) is None
        for name in ("gate:pending", "gate:all", "gate:case:x:1", "gate:outbox"):
            named = [
                r
                for r in caplog.records
                if f"{key(name)}," in r.getMessage()
                or (name == "gate:outbox" and "set aside" in r.getMessage())
            ]
            assert len(named) == 1, (name, [r.getMessage() for r in caplog.records])
        (aside,) = store.damaged_outbox()
        assert aside.event_id == "\\xff\\xfe-not-an-id" and "not UTF-8" in aside.problem

    @pytest.mark.parametrize("name", ["gate:pending", "gate:outbox", "gate:outbox:order", "gate:outbox:seq"])
    def test_a_transition_meeting_garbage_in_a_key_it_writes_is_stored_whole(
        self, caplog: pytest.LogCaptureFixture, name: str
    ) -> None:
        """Given a pending request and garbage (a string) written straight into Redis where the gate
        keeps a key a transition writes (the pending set, the outbox, its order, its counter), when
        the request is approved with an event, then the transition is stored whole (before, the record
        changed and the event was lost): the record approved, its event queued once, then cleared; the
        key is moved aside holding the garbage, and one log record names it."""
        store, req = self.create_store(), make_request()
        assert isinstance(store, RedisRequestStore)
        store.create(req)
        client, key = store._r, store._key(name)
        client.delete(key)
        client.set(key, "garbage written around the gate")
        approved, event = req.evolve(state=State.APPROVED, decided_at=T0), reminder(req)
        with caplog.at_level("WARNING", logger="gate"):
            assert store.replace(approved, [event])
        assert store.get(req.request_id) == approved and store.pending() == []
        assert store.outbox() == [event]
        store.clear_outbox([event.event_id])
        assert store.outbox() == [] and store.damaged_outbox() == []
        (aside,) = client.scan_iter(match=_glob(key) + ".aside-*", count=1000)
        assert client.get(aside) == "garbage written around the gate"
        named = re.compile(re.escape(key) + r"(?![:\w])")
        assert len([r for r in caplog.records if named.search(r.getMessage())]) == 1

    def test_a_request_key_of_another_type_is_kept_and_logged_and_fails_no_listing_or_prune(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given a request key holding a Redis string (garbage written where the gate keeps a hash),
        listed in every index beside a request that ended long ago and a pending one, when the store
        is listed and pruned again and again, then the ended one is pruned, the pending one listed,
        and the string key is kept as it was and logged once as an error naming it."""
        store = self.create_store()
        assert isinstance(store, RedisRequestStore)
        client, key = store._r, store._key
        ended, waiting = make_request(1, case="x:1"), make_request(2, case="x:1", minutes=1)
        for r in (ended, waiting):
            store.create(r)
        store.replace(ended.evolve(state=State.REJECTED, decided_at=T0))
        client.set(key("gate:req:garbage"), "\x00not a hash")
        for name in ("gate:pending", "gate:all", "gate:case:x:1"):
            client.zadd(key(name), {"garbage": T0.timestamp() - 1})
        with caplog.at_level("ERROR", logger="gate"):
            for _ in range(3):
                assert [r.request_id for r in store.pending()] == [waiting.request_id]
                assert [r.request_id for r in store.for_case("x:1")] == [ended.request_id, waiting.request_id]
            assert store.prune(T0 + timedelta(days=30)) == 1 and store.prune(T0 + timedelta(days=30)) == 0
        assert store.get(ended.request_id) is None and client.get(key("gate:req:garbage")) == "\x00not a hash"
        named = [r for r in caplog.records if key("gate:req:garbage") in r.getMessage()]
        assert [r.levelname for r in named] == ["ERROR"], [r.getMessage() for r in caplog.records]

    def test_an_ended_or_missing_request_left_in_the_pending_set_is_taken_off_it_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given an approved request put back in the pending set straight into Redis, and a member
        with no record at all, beside a pending request, when the store lists pending requests again
        and again, then only the pending one is listed, the two are taken off the set, each logged
        once, and the approved one is pruned once the retention has passed."""
        store = self.create_store()
        assert isinstance(store, RedisRequestStore)
        client, key = store._r, store._key
        pending, ended = make_request(1), make_request(2, minutes=1)
        for r in (pending, ended):
            store.create(r)
        store.replace(ended.evolve(state=State.APPROVED, decided_at=T0))
        client.zadd(key("gate:pending"), {ended.request_id: T0.timestamp(), "ghost": T0.timestamp()})
        with caplog.at_level("WARNING", logger="gate"):
            for _ in range(3):
                assert [r.request_id for r in store.pending()] == [pending.request_id]
        assert client.zrange(key("gate:pending"), 0, -1) == [pending.request_id]
        for rid in (ended.request_id, "ghost"):
            assert len([r for r in caplog.records if rid in r.getMessage()]) == 1, rid
        assert store.prune(T0 + timedelta(days=30)) == 1 and store.get(ended.request_id) is None

    def test_a_request_missing_from_its_indexes_is_put_back_by_reindex_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given a pending request whose record alone was written (a crash between the two writes),
        a pending one taken off every set, and an approved one taken off the set of all requests,
        all straight into Redis, beside a key of another type and an unreadable record under
        ``req:``, when the store is reindexed pass after pass, then each request is back in every
        index its record belongs in (listed pending, per case, recent), each is logged once naming
        what it lacked, the damaged keys are left as they are, and a second pass repairs nothing."""
        store = self.create_store()
        assert isinstance(store, RedisRequestStore)
        client, key = store._r, store._key
        bare, stripped, ended, intact = (make_request(n, case="x:1", minutes=n) for n in (1, 2, 3, 4))
        for r in (stripped, ended, intact):
            store.create(r)
        store.replace(ended.evolve(state=State.APPROVED, decided_at=T0))
        client.hset(key(f"gate:req:{bare.request_id}"), mapping={"v": 1, "d": bare.model_dump_json()})
        for name in ("gate:pending", "gate:all", "gate:case:x:1"):
            client.zrem(key(name), stripped.request_id)
        client.zrem(key("gate:all"), ended.request_id)
        client.set(key("gate:req:a-string"), "not a hash")
        client.hset(key("gate:req:garbage"), mapping={"v": 1, "d": "not json"})
        assert [r.request_id for r in store.pending()] == [intact.request_id]
        with caplog.at_level("WARNING", logger="gate"):
            passes = []
            for _ in range(2):
                passes.append(store.reindex(limit=10))
                while not passes[-1].done:
                    passes.append(store.reindex(limit=10))
        assert sum(p.repaired for p in passes) == 3 and passes[-1].repaired == 0
        ids = [r.request_id for r in (bare, stripped, ended, intact)]
        assert [r.request_id for r in store.pending()] == [
            bare.request_id,
            stripped.request_id,
            intact.request_id,
        ]
        assert [r.request_id for r in store.for_case("x:1")] == ids
        assert [r.request_id for r in store.recent()] == ids[::-1]
        for req, lacked in (
            (bare, "the pending set, the set of all requests, its case's set"),
            (stripped, "the pending set, the set of all requests, its case's set"),
            (ended, "the set of all requests"),
        ):
            named = [r for r in caplog.records if req.request_id in r.getMessage()]
            assert len(named) == 1 and f"was missing from {lacked} (" in named[0].getMessage(), named
        for rid in ("a-string", "garbage"):
            assert len([r for r in caplog.records if rid in r.getMessage()]) == 1, rid
        assert client.get(key("gate:req:a-string")) == "not a hash"
        assert client.zscore(key("gate:all"), "garbage") is None

    def test_a_member_whose_record_is_gone_is_taken_off_its_index_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Given members with no record written straight into the set of all requests and a case's
        set beside a request of that case, when the store is listed and pruned again and again, then
        only the request is listed, each member is taken off its set and logged once, and nothing
        is left of them for pruning to read for ever."""
        store = self.create_store()
        assert isinstance(store, RedisRequestStore)
        client, key = store._r, store._key
        req = make_request(1, case="x:1")
        store.create(req)
        client.zadd(key("gate:all"), {"ghost-all": T0.timestamp() - 60})
        client.zadd(key("gate:case:x:1"), {"ghost-case": T0.timestamp() - 60})
        with caplog.at_level("WARNING", logger="gate"):
            for _ in range(3):
                assert [r.request_id for r in store.for_case("x:1")] == [req.request_id]
                assert store.prune(T0 + timedelta(days=30)) == 0
                assert [r.request_id for r in store.recent()] == [req.request_id]
        assert client.zrange(key("gate:all"), 0, -1) == [req.request_id]
        assert client.zrange(key("gate:case:x:1"), 0, -1) == [req.request_id]
        for ghost in ("ghost-all", "ghost-case"):
            assert len([r for r in caplog.records if ghost in r.getMessage()]) == 1, ghost
