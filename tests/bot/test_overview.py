"""The SOC at a glance: which phrasings ask for open cases or a summary, the windows they name (on a
frozen clock, across time zones and a DST change), and the answers computed from a real Wazuh day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from aisoc.bus import Bus
from aisoc.events import (
    ActionDecided,
    ActionExecuted,
    AlertReceived,
    CaseClosed,
    ClosedBy,
    Decision,
    ProducedBy,
    Role,
)
from aisoc.memory import Memory
from aisoc.tenants import case_id_for
from bot.overview import LISTED, Ask, answer, ask, bounds
from tests.bot.story import BLOCK, ISOLATE, NEIGHBOURS, SHELLSHOCK, publish_story
from tests.gate.factory import T0

UTC_TZ = ZoneInfo("UTC")
ALICE = ProducedBy(role=Role.HUMAN)


def _digest(bus: Bus) -> str:
    proposal = next(e for e in bus.audit if getattr(e, "action_id", None) == ISOLATE)
    return str(proposal.plan_digest)


LISTS: list[tuple[str, int | None]] = [
    ("any open incidents", None),
    ("any open incidents?", None),
    ("Any open cases right now?", None),
    ("which incidents are still open?", None),
    ("list cases", None),
    ("list open cases pls", None),
    ("show me the open cases", None),
    ("open cases", None),
    ("cases", None),
    ("incidents?", None),
    ("how many cases are open", None),
    ("what incidents are active", None),
    ("show me sev-1 incidents", 1),
    ("any sev1s?", 1),
    ("SEV 1 cases?", 1),
    ("show me the SEV-2 cases", 2),
    ("sev2 incidents", 2),
    ("list the sev-3s", 3),
    ("any severity 4 cases open?", 4),
    ("any sev one incidents", 1),
]
SUMMARIES: list[tuple[str, str]] = [
    ("what happened overnight?", "night"),
    ("what happened last night", "night"),
    ("anything overnight?? summary pls", "night"),
    ("summary of today please", "today"),
    ("how many alerts did we get today", "today"),
    ("alerts today", "today"),
    ("give me today's summary", "today"),
    ("what happened yesterday", "yesterday"),
    ("how many incidents since yesterday?", "since-yesterday"),
    ("what happened this morning", "morning"),
    ("how many incidents this week", "week"),
    ("what did I miss?", "shift"),
    ("what have I missed", "shift"),
    ("what's new?", "shift"),
    ("anything new?", "shift"),
    ("recap of last shift", "shift"),
    ("handover please", "shift"),
    ("shift summary", "shift"),
    ("catch me up", "shift"),
    ("what happened in the last 2h", "last"),
    ("give me the numbers for the last 8 hours", "last"),
    ("anything new in the past hour?", "last"),
    ("alerts in the last 3 days", "last"),
    ("summary of the alerts", "day"),
    ("what's our MTTR this week", "week"),
    ("mean time to respond today?", "today"),
]
NOT_OVERVIEW = [
    "why did it contain that host?",
    "why did it contain Linux-Server?",
    "explain the shellshock case",
    "summarize the shellshock case",
    "summary",
    "status of the shellshock case",
    "what's the status?",
    "what's open?",  # what waits on people: `pending`
    "anything pending for me?",
    "who is on call?",
    "why did you isolate ws-042h",
    "explain act-12m",
    "close it as fp",
    "thanks!",
    "help",
    "",
]


@pytest.mark.parametrize(("text", "sev"), LISTS)
def test_list_phrasings(text: str, sev: int | None) -> None:
    got = ask(text)
    assert got is not None and got.mode == "list" and got.sev == sev, got
    assert got.explicit  # they name cases: even in a case's thread they ask about the SOC


@pytest.mark.parametrize(("text", "window"), SUMMARIES)
def test_summary_phrasings(text: str, window: str) -> None:
    got = ask(text)
    assert got is not None and got.mode == "summary" and got.window == window, got


@pytest.mark.parametrize("text", NOT_OVERVIEW)
def test_other_questions_are_not_overviews(text: str) -> None:
    assert ask(text) is None


def test_last_n_reads_the_number_and_the_unit() -> None:
    assert ask("what happened in the last 2h") == Ask("summary", "last", timedelta(hours=2))
    assert ask("alerts in the last 3 days") == Ask("summary", "last", timedelta(days=3), explicit=True)
    assert ask("anything in the past 45 minutes? summary") == Ask("summary", "last", timedelta(minutes=45))
    assert ask("summary of the last week") == Ask("summary", "last", timedelta(weeks=1))
    assert ask("summary of the last hour") == Ask("summary", "last", timedelta(hours=1))
    # beyond a month is not a window the bot answers: a summary of the default day instead
    assert ask("summary of alerts in the last 900 days") == Ask("summary", "day", explicit=True)


LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("now_local", "tz", "start_local", "end_local"),
    [
        # overnight: 18:00 to 08:00, the span that began most recently
        ("2026-03-16 07:00", UTC_TZ, "2026-03-15 18:00", "2026-03-16 07:00"),
        ("2026-03-16 10:00", UTC_TZ, "2026-03-15 18:00", "2026-03-16 08:00"),
        ("2026-03-16 20:00", UTC_TZ, "2026-03-16 18:00", "2026-03-16 20:00"),
        ("2026-03-16 18:00", UTC_TZ, "2026-03-16 18:00", "2026-03-16 18:00"),
        # the night of a DST change in Los Angeles (2027-03-14 02:00 -> 03:00): 18:00 and 08:00 on the
        # wall clock, 13 hours apart
        ("2027-03-14 09:30", LA, "2027-03-13 18:00", "2027-03-14 08:00"),
    ],
)
def test_overnight_is_on_the_spaces_wall_clock(
    now_local: str, tz: ZoneInfo, start_local: str, end_local: str
) -> None:
    now = datetime.fromisoformat(now_local).replace(tzinfo=tz)
    start, end = bounds(Ask("summary", "night"), now.astimezone(UTC), tz) or (None, None)
    assert start == datetime.fromisoformat(start_local).replace(tzinfo=tz)
    assert end == datetime.fromisoformat(end_local).replace(tzinfo=tz)


def test_dst_night_is_thirteen_hours() -> None:
    now = datetime(2027, 3, 14, 9, 30, tzinfo=LA)
    start, end = bounds(Ask("summary", "night"), now, LA) or (now, now)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=13)


def test_calendar_windows() -> None:
    tz = ZoneInfo("Europe/Berlin")
    now = datetime(2028, 12, 31, 23, 30, tzinfo=tz)  # a Sunday, year end, leap year
    midnight = datetime(2028, 12, 31, tzinfo=tz)
    assert bounds(Ask("summary", "today"), now, tz) == (midnight, now)
    assert bounds(Ask("summary", "yesterday"), now, tz) == (midnight - timedelta(days=1), midnight)
    assert bounds(Ask("summary", "since-yesterday"), now, tz) == (midnight - timedelta(days=1), now)
    assert bounds(Ask("summary", "morning"), now, tz) == (midnight, midnight + timedelta(hours=12))
    assert bounds(Ask("summary", "week"), now, tz) == (datetime(2028, 12, 25, tzinfo=tz), now)
    assert bounds(Ask("summary", "shift"), now, tz) == (now - timedelta(hours=8), now)
    assert bounds(Ask("summary", "day"), now, tz) == (now - timedelta(hours=24), now)
    assert bounds(Ask("list"), now, tz) is None


# --- answers from the record -------------------------------------------------------------------------


@pytest.fixture
def day() -> Bus:
    """The story's day at T0: four real alerts that stay alerts, the Shellshock case planned at SEV-2
    with two approvals waiting."""
    bus = Bus()
    with time_machine.travel(T0, tick=False):
        publish_story(bus, T0)
    return bus


def _answer(bus: Bus, a: Ask | None, now: datetime, tz: ZoneInfo = UTC_TZ) -> str:
    assert a is not None
    return answer(a, Memory(bus.audit), now, tz)


def test_open_cases_worst_first(day: Bus) -> None:
    text = _answer(day, ask("any open incidents?"), T0 + timedelta(hours=1))
    lines = text.splitlines()
    assert lines[0] == "**Open cases: 5** (worst first)"
    assert lines[1].startswith("- **SEV-2** Shellshock attack detected [Linux-Server]")
    assert SHELLSHOCK in lines[1] and "awaiting human" in lines[1]
    assert all(cid in text for cid in NEIGHBOURS)
    assert "since 2026-03-16 10:00 UTC" in lines[1]


def test_sev_filter(day: Bus) -> None:
    two = _answer(day, ask("show me the SEV-2 cases"), T0)
    assert two.splitlines()[0] == "**Open SEV-2 cases: 1** (worst first)" and SHELLSHOCK in two
    one = _answer(day, ask("any sev1s?"), T0)
    assert one == "**No open SEV-1 cases.** Open by SEV: SEV-2 1."


def _alice_closes(bus: Bus, case_id: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        bus.publish(
            CaseClosed(
                case_id=case_id,
                produced_by=ALICE,
                disposition="false_positive",
                reason="a typo of vboxuser's",
                closed_by=ClosedBy(role=Role.HUMAN, person="alice@example.com"),
            )
        )


def test_closed_cases_leave_the_list(day: Bus) -> None:
    _alice_closes(day, NEIGHBOURS[0], T0 + timedelta(minutes=5))
    text = _answer(day, ask("open cases"), T0 + timedelta(minutes=5))
    assert text.splitlines()[0] == "**Open cases: 4** (worst first)" and NEIGHBOURS[0] not in text


def test_summary_counts_the_day(day: Bus) -> None:
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        for action_id, decision, reason in (
            (ISOLATE, Decision.APPROVED, "confirmed RCE"),
            (BLOCK, Decision.REJECTED, "shared NAT"),
        ):
            day.publish(
                ActionDecided(
                    case_id=SHELLSHOCK,
                    action_id=action_id,
                    decision=decision,
                    decided_by="alice@example.com",
                    reason=reason,
                    channel="gate",
                    plan_digest=_digest(day),
                    produced_by=ALICE,
                )
            )
        day.publish(
            ActionExecuted(
                case_id=SHELLSHOCK, action_id=ISOLATE, executed_by="alice@example.com", produced_by=ALICE
            )
        )
    text = _answer(day, ask("summary of today please"), T0 + timedelta(hours=2))
    lines = text.splitlines()
    assert lines[0] == "**The SOC today (2026-03-16 00:00 – 12:00 UTC)**"
    assert "- Alerts in: **5**" in lines
    assert "- Sentinel: 0 closed, 1 to Tier 2" in lines
    assert "- Tier 2: 1 escalate" in lines
    assert "- IR Lead plans: SEV-2 1" in lines
    assert "- People's decisions on actions: 1 approved, 1 rejected, 1 reported done" in lines
    assert "**Still open from then: 5** (worst first)" in lines


def test_summary_counts_closures_and_their_time(day: Bus) -> None:
    _alice_closes(day, NEIGHBOURS[0], T0 + timedelta(minutes=90))
    text = _answer(day, ask("what's our MTTR today?"), T0 + timedelta(hours=2))
    assert "- Closed: 1 (1 by a person); mean time from alert to close 1 hour 30 minutes" in text.splitlines()
    assert "**Still open from then: 4** (worst first)" in text.splitlines()


def test_a_window_without_activity(day: Bus) -> None:
    later = T0 + timedelta(days=3)
    text = _answer(day, ask("what happened yesterday"), later)
    assert text.splitlines()[:2] == [
        "**The SOC yesterday (2026-03-18 00:00 – 2026-03-19 00:00 UTC)**",
        "- Alerts in: **0**",
    ]
    assert "Still open" not in text
    assert "Alerts in: **5**" in _answer(day, ask("alerts in the last 3 days"), later)


def test_the_window_is_said_in_the_spaces_time_zone(day: Bus) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    text = _answer(day, ask("what did I miss?"), T0 + timedelta(hours=1), tz)
    assert text.splitlines()[0] == "**The SOC in the last shift (2026-03-16 12:00 – 20:00 JST)**"


def test_tenants_are_named_when_there_are_several(day: Bus) -> None:
    alert = Memory(day.audit).case(NEIGHBOURS[1])
    assert alert is not None
    from tests.bot.story import real_alerts

    acme = real_alerts((NEIGHBOURS[1],))[NEIGHBOURS[1]].model_copy(update={"tenant": "acme"})
    cid = case_id_for(acme.source, acme.source_id, "acme")
    with time_machine.travel(T0, tick=False):
        day.publish(AlertReceived(alert=acme, case_id=cid, produced_by=ProducedBy(role="ingest")))
    text = _answer(day, ask("how many alerts today"), T0 + timedelta(hours=1))
    assert "- Alerts in: **6** (acme 1, default 5)" in text.splitlines()
    assert any(
        line.startswith("- acme: SQL injection") for line in _answer(day, ask("cases"), T0).splitlines()
    )


def test_a_long_list_is_counted(day: Bus) -> None:
    from tests.bot.story import real_alerts

    base = real_alerts((NEIGHBOURS[0],))[NEIGHBOURS[0]]
    with time_machine.travel(T0, tick=False):
        for n in range(LISTED + 3):
            a = base.model_copy(update={"source_id": f"copy-{n}"})
            day.publish(
                AlertReceived(alert=a, case_id=f"wazuh:copy-{n}", produced_by=ProducedBy(role="ingest"))
            )
    text = _answer(day, ask("open cases"), T0)
    assert text.splitlines()[0] == f"**Open cases: {LISTED + 8}** (worst first)"
    assert f"- … {8} more" in text
    assert sum(line.startswith("- ") for line in text.splitlines()) == LISTED + 1


def test_untrusted_titles_are_cleaned(day: Bus) -> None:
    from tests.bot.story import real_alerts

    a = real_alerts((NEIGHBOURS[0],))[NEIGHBOURS[0]].model_copy(
        update={"source_id": "evil", "title": "click [here](https://evil.example) <@all> `x`"}
    )
    with time_machine.travel(T0, tick=False):
        day.publish(AlertReceived(alert=a, case_id="wazuh:evil`x", produced_by=ProducedBy(role="ingest")))
    text = _answer(day, ask("open cases"), T0)
    line = next(x for x in text.splitlines() if "evil" in x)
    assert "](" not in line and "<@" not in line and "https://" not in line and "wazuh:evil'x" in line
