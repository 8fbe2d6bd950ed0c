"""The nudger's sweep reads only the cases that can need a nudge, from an index kept current with the audit
log: at a few thousand cases, mostly closed, it lists memory once (at its first sweep) and then reads
only the cases the log named since, and it posts exactly what a sweep over every case would. The bot
builds the index in the background at its start, once. Time is frozen (the roster decides who is
mentioned; the steps count from the events' times)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.events import Event
from aisoc.memory import CaseRecord, Memory
from bot.directory import Directory
from bot.nudges import Nudger
from bot.service import Bot
from bot.store import Post
from bot.understand import understand
from gate.service import Gate
from tests.aisoc.memory import factory as f
from tests.bot.conftest import Space
from tests.bot.counting import Counting
from tests.bot.factory import WallClock, bot_settings, gate_settings
from tests.bot.story import publish_story
from tests.gate.factory import T0

CASES = 3000
"""Cases in the log; nine in ten closed or done."""


class Log:
    """An audit log that can be swapped for another under its readers (Redis restarted empty)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus.audit, name)


def story(n: int) -> list[Event]:
    """Case ``test:n``: closed (most), reviewed and closed in one instant, a review waiting, an
    approved action not done, or an action done and the case closed."""
    a = f.alert(str(n), created=f.at(0))
    cid, act, kind = a.case_id, f"act-{n}", n % 10
    if kind <= 5:
        return [a, f.closed(cid, "benign")]
    if kind == 6:  # the close logged after the review in the same instant: nothing waits
        return [a, f.review(cid, when=f.at(9)), f.closed(cid, "benign", when=f.at(9))]
    if kind == 7:
        return [a, f.review(cid)]
    if kind == 8:
        return [a, f.proposed(cid, act, f"ws-{n}"), f.decided(cid, act)]
    return [
        a,
        f.proposed(cid, act, f"ws-{n}"),
        f.decided(cid, act),
        f.executed(cid, act),
        f.closed(cid, "true_positive"),
    ]


def full_sweep(nudger: Nudger, memory: Memory, now: float) -> list[Post]:
    """What a sweep over every case in memory posts (the sweep before the index)."""
    return [p for rec in memory.cases() for p in nudger.due(rec, now)]


def posted(posts: list[Post]) -> list[tuple[str, str | None, str, Any]]:
    return sorted((p.post_id, p.case_id, p.room_id, p.body) for p in posts)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(f.at(0), tick=False):
        yield


def test_a_sweep_reads_only_the_waiting_cases_and_posts_what_a_full_sweep_would() -> None:
    """Given 3,000 cases (a tenth waiting on a review, a tenth approved and not done), when the nudger
    sweeps, cases change, it sweeps again and the log is wiped, then memory is listed once per build
    (the first sweep, the wipe), only the changed cases are read, and every sweep posts exactly what a
    sweep over every case would: every waiting case at its step, the rest never."""
    bus = Bus()
    for n in range(CASES):
        for e in story(n):
            bus.publish(e)
    log = Log(bus)
    memory = Memory(log)  # type: ignore[arg-type]
    counting = Counting(memory)
    nudger = Nudger(bot_settings(None), lambda: counting, Directory(gate_settings()))  # type: ignore[arg-type,return-value]

    now = f.at(80).timestamp()  # reviews at 9 min: step 2 (30 min SLA); approvals at 5 min: step 2
    first = nudger.sweep(now).posts
    assert posted(first) == posted(full_sweep(nudger, memory, now))
    waiting = {f"test:{n}" for n in range(CASES) if n % 10 in (7, 8)}
    assert {p.case_id for p in first} == waiting and len(first) == len(waiting)
    assert (counting.listed, counting.read) == (1, [])

    changed = [
        f.executed("test:8", "act-8", when=f.at(81)),  # done: no more reminders
        f.closed("test:7", "benign", when=f.at(9)),  # closed in the review's instant, logged after it
        f.review("test:0", when=f.at(82)),  # a closed case reopened for review
        f.proposed("test:1", "act-1b", "ws-1", when=f.at(83)),
        f.decided(None, "act-1b", when=f.at(84)),  # approved; the decision names no case
    ]
    for e in changed:
        bus.publish(e)
    later = f.at(200).timestamp()
    second = nudger.sweep(later).posts
    assert posted(second) == posted(full_sweep(nudger, memory, later))
    ids = {p.case_id for p in second}
    assert {"test:0", "test:1"} <= ids and not {"test:7", "test:8"} & ids
    assert counting.listed == 1 and sorted(set(counting.read)) == ["test:0", "test:1", "test:7", "test:8"]

    wiped = Bus()  # Redis restarted empty, then a few cases came in
    for n in range(20):
        for e in story(n):
            wiped.publish(e)
    log.bus = wiped
    third = nudger.sweep(later).posts
    assert posted(third) == posted(full_sweep(nudger, memory, later))
    assert {p.case_id for p in third} == {"test:7", "test:8", "test:17", "test:18"}
    assert counting.listed == 2


def test_cases_memory_moves_out_of_its_window_are_swept_as_a_full_sweep_would(tmp_path: Any) -> None:
    """Given memory bounded to 40 cases in RAM, when cases keep coming and memory moves the oldest
    out, then each sweep posts what a sweep over the cases memory holds would."""
    bus = Bus()
    memory = Memory(bus.audit, snapshot_path=tmp_path / "memory.sqlite", max_cases=40)
    counting = Counting(memory)
    nudger = Nudger(bot_settings(None), lambda: counting, Directory(gate_settings()))  # type: ignore[arg-type,return-value]
    now = f.at(80).timestamp()
    for n in range(0, 200, 10):
        for m in range(n, n + 10):
            for e in story(m):
                bus.publish(e.model_copy(update={"occurred_at": e.occurred_at + timedelta(seconds=m)}))
        assert posted(nudger.sweep(now).posts) == posted(full_sweep(nudger, memory, now))
    assert memory.cold > 0


def test_the_index_is_built_in_the_background_at_start_once_and_a_sweep_waits_for_it(
    monkeypatch: pytest.MonkeyPatch, space: Space, bus: Bus, gate: Gate, clock: WallClock
) -> None:
    """Given 300 cases (a fifth waiting), when the bot starts, then start returns while the nudger's
    index is still being built in the background; a sweep that comes during the build waits for it
    and posts exactly what a sweep over every case would; memory is listed once for the index (and
    once for the catalog built after it), and a later sweep lists nothing: the index was built once."""
    for n in range(300):
        for e in story(n):
            bus.publish(e)
    building, release = threading.Event(), threading.Event()
    made: list[Held] = []

    class Held(Memory):
        """Memory whose first listing of every case (the index's build) holds until released."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.listed = 0
            made.append(self)

        def cases(self) -> Iterator[CaseRecord]:
            self.listed += 1
            if self.listed == 1:
                building.set()
                release.wait(10)
            return super().cases()

    monkeypatch.setattr("bot.service.Memory", Held)
    b = Bot(bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    now = f.at(80).timestamp()
    swept: list[list[Post]] = []
    try:
        b.start(feed=False, sender=False)
        assert building.wait(10), "the index was not built at start"
        assert b.warming is not None and b.warming.is_alive()
        assert not b.nudger.waiting.built  # start did not wait for it
        sweep = threading.Thread(target=lambda: swept.append(b.nudger.sweep(now).posts))
        sweep.start()
        sweep.join(0.2)
        assert sweep.is_alive() and not swept  # it waits for the build
        release.set()
        sweep.join(10)
        b.warming.join(10)
        (memory,) = made
        assert memory.listed == 2  # the index's build and the catalog's: the sweep listed nothing
        assert swept and posted(swept[0]) == posted(full_sweep(b.nudger, memory, now))
        assert {p.case_id for p in swept[0]} == {f"test:{n}" for n in range(300) if n % 10 in (7, 8)}
        listed = memory.listed
        assert posted(b.nudger.sweep(now).posts) == posted(swept[0])
        assert memory.listed == listed and b.nudger.warm() is False  # built once
    finally:
        release.set()
        b.stop()
        b.close()


def test_a_question_during_the_index_build_at_start_waits_for_the_one_catalog_build(
    monkeypatch: pytest.MonkeyPatch, bus: Bus, gate: Gate, space: Space, clock: WallClock
) -> None:
    """Given a bot just started, its nudger's index still being built in the background, when a
    question comes, then it waits and is answered from the catalog the background thread builds next:
    every case is listed twice in all (the index's build and the catalog's), both on that thread,
    never a third time on the question's."""
    publish_story(bus, T0)
    building, release = threading.Event(), threading.Event()
    made: list[Held] = []

    class Held(Memory):
        """Memory whose first listing of every case (the index's build) holds until released, and
        which says on which thread each listing ran."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.listed_on: list[str] = []
            made.append(self)

        def cases(self) -> Iterator[CaseRecord]:
            self.listed_on.append(threading.current_thread().name)
            if len(self.listed_on) == 1:
                building.set()
                release.wait(10)
            return super().cases()

    monkeypatch.setattr("bot.service.Memory", Held)
    b = Bot(bot_settings(space.fake, space.soc), bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    found: list[str] = []

    def ask() -> None:
        with b.commands.desk(None).catalog.reading() as catalog:
            req = understand("why did it contain Linux-Server?", catalog, None)
            found.append(req.subject.value if req.subject else "")

    try:
        b.start(feed=False, sender=False)
        assert building.wait(10), "the index was not built at start"
        question = threading.Thread(target=ask, name="question")
        question.start()
        question.join(0.2)
        assert question.is_alive() and not found  # it waits for the build at start
        release.set()
        question.join(10)
        assert b.warming is not None
        b.warming.join(10)
        (memory,) = made
        assert found == ["Linux-Server"]
        assert memory.listed_on == ["bot-warm", "bot-warm"]
    finally:
        release.set()
        b.stop()
        b.close()


def test_a_question_does_not_wait_forever_for_a_build_at_start_that_hangs(
    monkeypatch: pytest.MonkeyPatch,
    bus: Bus,
    gate: Gate,
    space: Space,
    clock: WallClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Given a bot just started whose nudger's index build hangs (memory's first listing blocks until
    the test ends), when a question comes, then it waits at most ``warm_wait_s``, a warning says the
    build at start did not run in time, and the question is answered from a catalog built on demand on
    its own thread; a second question does not wait again."""
    publish_story(bus, T0)
    building, release = threading.Event(), threading.Event()
    made: list[Hung] = []

    class Hung(Memory):
        """Memory whose first listing of every case (the index's build) blocks until released."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.listed_on: list[str] = []
            made.append(self)

        def cases(self) -> Iterator[CaseRecord]:
            self.listed_on.append(threading.current_thread().name)
            if len(self.listed_on) == 1:
                building.set()
                release.wait(30)
            return super().cases()

    monkeypatch.setattr("bot.service.Memory", Hung)
    settings = bot_settings(space.fake, space.soc, warm_wait_s=0.05)
    b = Bot(settings, bus=bus, gate=gate, gate_settings=gate.settings, clock=clock)
    found: list[str] = []

    def ask() -> None:
        with b.commands.desk(None).catalog.reading() as catalog:
            req = understand("why did it contain Linux-Server?", catalog, None)
            found.append(req.subject.value if req.subject else "")

    try:
        b.start(feed=False, sender=False)
        assert building.wait(10), "the index was not built at start"
        for name in ("question", "another"):
            question = threading.Thread(target=ask, name=name)
            question.start()
            question.join(10)
            assert not question.is_alive(), "the question waits for a build that hangs"
        assert found == ["Linux-Server", "Linux-Server"]
        (memory,) = made
        assert memory.listed_on == ["bot-warm", "question"]  # built on demand once, the index still hangs
        assert b.warming is not None and b.warming.is_alive()
        assert any(
            r.levelname == "WARNING" and "did not run within" in r.getMessage() for r in caplog.records
        )
    finally:
        release.set()
        b.stop()
        b.close()
